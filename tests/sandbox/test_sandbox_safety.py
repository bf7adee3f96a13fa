"""The sandbox is safe to leave running: loopback only, strict admin input, robust HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import sys
from collections.abc import Iterator

import httpx
import pytest

from pulumi_webhooks._fields import is_local_host, is_loopback_host
from pulumi_webhooks.sandbox import MissingDependency, Sandbox, SandboxServer
from pulumi_webhooks.sandbox._admin import is_loopback_target

from ..helpers import SANDBOX_URL, sandbox_client


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST.", "::ffff:127.0.0.1"]
)
def test_loopback_hosts_are_parsed_as_addresses(host: str) -> None:
    assert is_loopback_host(host)
    assert is_local_host(host)


@pytest.mark.parametrize(
    "host",
    ["localhost.attacker.example", "127.0.0.1.attacker.example", "127.attacker.example", "::1.example",
     "0.0.0.0", "169.254.169.254", "10.0.0.1", "example.com", "", "127.1", "2130706433"],
)
def test_names_that_merely_look_local_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_link_local_and_unspecified_stay_local_for_url_checks() -> None:
    assert is_local_host("169.254.169.254") and is_local_host("0.0.0.0") and is_local_host("app.localhost")
    assert not is_local_host("localhost.attacker.example")


@pytest.mark.parametrize(
    ("url", "ok"),
    [("http://127.0.0.1:9/h", True), ("http://[::1]:9/h", True), ("https://localhost/h", True),
     ("http://localhost.attacker.example/h", False), ("http://127.0.0.1.nip.io/h", False),
     ("ftp://127.0.0.1/h", False), ("http://127.0.0.1:99999/h", False), ("http://169.254.169.254/h", False)],
)
def test_delivery_targets_must_be_loopback_urls(url: str, ok: bool) -> None:
    assert is_loopback_target(url) is ok


def test_deliver_refuses_a_target_that_only_starts_like_localhost(http: httpx.Client, sb: Sandbox) -> None:
    webhook_id, _ = sb.apps["spritz"].sample("http://127.0.0.1:9/h", "payment.completed", {"secret": "s"})
    for target in ("http://localhost.attacker.example/h", "http://127.0.0.1.attacker.example/h"):
        refused = http.post(f"/_sandbox/deliver/spritz/{webhook_id}", json={"target": target})
        assert refused.status_code == 400 and "loopback" in refused.json()["error"]


def test_non_loopback_bind_is_refused_unless_allowed() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        SandboxServer(Sandbox(), host="0.0.0.0")
    with pytest.raises(ValueError, match="--allow-remote"):
        SandboxServer(Sandbox(), host="localhost.attacker.example")
    allowed = SandboxServer(Sandbox(), host="0.0.0.0", allow_remote=True)
    allowed.server_close()


def test_cli_refuses_a_remote_bind(capsys: pytest.CaptureFixture[str]) -> None:
    from pulumi_webhooks.cli import main

    assert main(["sandbox", "--host", "0.0.0.0", "--port", "0"]) == 1
    captured = capsys.readouterr()
    assert "--allow-remote" in captured.err and captured.out == ""


def test_ipv6_loopback_bind(sandbox_server: SandboxServer) -> None:
    six = SandboxServer(Sandbox(), host="::1").start()
    try:
        assert six.url.startswith("http://[::1]:")
        assert httpx.get(f"{six.url}/_sandbox/health").json()["ok"] is True
    finally:
        six.stop()


@pytest.mark.parametrize(
    "rule",
    [{"rate": "abc"}, {"rate": 2}, {"status": "500"}, {"status": 42}, {"path": "(unclosed"},
     {"method": "FETCH"}, {"count": -1}, {"latency": -1}, {"drop": "yes"}, {"provider": "nope"},
     {"colour": "red"}, ["not", "an", "object"]],
)
def test_bad_fault_rules_get_a_400_and_leave_the_server_working(sandbox_server: SandboxServer, rule: object) -> None:
    with httpx.Client(base_url=sandbox_server.url) as c:
        answer = c.post("/_sandbox/faults", json=rule)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]
        assert c.get("/_sandbox/faults").json() == []
        assert c.get("/phonepe/configs/v1/webhooks").status_code == 401  # still answering, unharmed


def test_a_good_fault_rule_is_stored_as_given(http: httpx.Client) -> None:
    rule = {"provider": "spritz", "method": "post", "path": "/v1/integrator/webhooks$", "rate": 1, "status": 503,
            "retry_after": 1.5, "count": 2}
    assert http.post("/_sandbox/faults", json=rule).status_code == 201
    stored = http.get("/_sandbox/faults").json()[0]
    assert stored["method"] == "POST" and stored["rate"] == 1.0 and stored["count"] == 2


@pytest.mark.parametrize("since", ["abc", "1.5", "-3"])
def test_bad_journal_query_gets_a_400(http: httpx.Client, since: str) -> None:
    answer = http.get("/_sandbox/journal", params={"since": since})
    assert answer.status_code == 400 and "since" in answer.json()["error"]
    assert http.get("/_sandbox/journal", params={"provider": "nope"}).status_code == 404
    assert http.get("/_sandbox/journal", params={"since": "0"}).status_code == 200


@pytest.mark.parametrize("options", [{"send": "no"}, {"event": 3}, {"target": ["x"]}, {"extra": 1}, [1]])
def test_bad_delivery_options_get_a_400(http: httpx.Client, sb: Sandbox, options: object) -> None:
    webhook_id, _ = sb.apps["spritz"].sample("http://127.0.0.1:9/h", "payment.completed", {"secret": "s"})
    assert http.post(f"/_sandbox/deliver/spritz/{webhook_id}", json=options).status_code == 400


def test_chunked_request_body_is_read_whole(sandbox_server: SandboxServer) -> None:
    # Sent by hand so the framing is exactly chunked (with an extension and a trailer).
    body = json.dumps({"latency": 0, "count": 1, "status": 418}).encode()
    host, port = sandbox_server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=5) as sock:
        parts = [body[:5], body[5:]]
        chunks = b"".join(f"{len(p):x};note=1\r\n".encode() + p + b"\r\n" for p in parts)
        sock.sendall(
            b"POST /_sandbox/faults HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\nX-Trailer: t\r\n\r\n"
        )
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 201"), reply
    assert json.loads(reply.split("\r\n\r\n", 1)[1])["status"] == 418


def test_chunked_body_through_httpx_then_another_request(sandbox_server: SandboxServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"status": '
        yield b"503}"

    with httpx.Client(base_url=sandbox_server.url) as c:
        assert c.post("/_sandbox/faults", content=chunks()).status_code == 201
        assert c.get("/_sandbox/faults").json()[0]["status"] == 503


def test_malformed_chunk_gets_a_400_and_closes(sandbox_server: SandboxServer) -> None:
    host, port = sandbox_server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=5) as sock:
        sock.sendall(b"POST /_sandbox/faults HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 400")


def test_oversized_body_gets_a_413(sandbox_server: SandboxServer) -> None:
    answer = httpx.post(f"{sandbox_server.url}/_sandbox/faults", content=b"x" * (2 << 20))
    assert answer.status_code == 413


def test_head_answers_like_get_without_a_body(sandbox_server: SandboxServer) -> None:
    host, port = sandbox_server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=5)
    try:
        connection.request("GET", "/_sandbox/health")
        got = connection.getresponse()
        got_body = got.read()
        connection.request("HEAD", "/_sandbox/health")
        head = connection.getresponse()
        assert head.status == got.status == 200
        assert head.getheader("Content-Length") == str(len(got_body))
        assert head.read() == b""
        connection.request("HEAD", "/spritz/v1/integrator/webhooks")  # a provider route: its GET, unauthorised
        unauthorised = connection.getresponse()
        assert unauthorised.status == 401 and unauthorised.read() == b""
        connection.request("GET", "/_sandbox/health")  # the connection is still in step
        again = connection.getresponse()
        assert again.status == 200 and again.read() == got_body
    finally:
        connection.close()


def test_head_is_recorded_and_changes_nothing(http: httpx.Client, sb: Sandbox) -> None:
    assert http.head("/spritz/v1/integrator/webhooks").status_code == 401
    assert http.get("/_sandbox/journal").json()[-1]["method"] == "HEAD"


def test_sandbox_without_cryptography_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)  # makes `import cryptography` fail
    with pytest.raises(MissingDependency, match=r"pip install 'pulumi-webhooks\[sandbox\]'"):
        Sandbox(base_url=SANDBOX_URL)


def test_cli_sandbox_without_cryptography_exits_with_the_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pulumi_webhooks.cli import main

    monkeypatch.setitem(sys.modules, "cryptography", None)
    assert main(["sandbox", "--port", "0"]) == 1
    assert "pulumi-webhooks[sandbox]" in capsys.readouterr().err


def test_unexpected_errors_answer_500_and_the_server_keeps_serving(
    sandbox_server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sandbox_server.sandbox.apps["spritz"]

    def broken(*_: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(app, "webhooks", broken)
    with httpx.Client(base_url=sandbox_server.url) as c:
        answer = c.get("/_sandbox/webhooks/spritz")
        assert answer.status_code == 500 and "boom" in answer.json()["error"]
        assert c.get("/_sandbox/health").status_code == 200


def test_in_process_client_still_works(sb: Sandbox) -> None:
    assert sandbox_client(sb).get("/_sandbox/health").json()["ok"] is True
