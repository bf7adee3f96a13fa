"""`pulumi-webhooks trigger` and `listen`: deliveries a receiver verifies with pulumi_webhooks.verify.

Each signature is also recomputed here with the standard library (or cryptography's RSA
verification for VelaFi) straight from the provider's documented rule, never with the
package's own signing or verifying code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pulumi_webhooks import verify
from pulumi_webhooks._errors import WebhookError
from pulumi_webhooks._localdev import Listener, events, trigger
from pulumi_webhooks._registry import NAMES
from pulumi_webhooks.cli import main
from pulumi_webhooks.sandbox import SandboxServer

SECRET = "whsec_local_test_0123456789"
SAFEPAY_SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@dataclass
class Receiver:
    """A loopback webhook receiver that checks each delivery with ``check`` (401 when it raises)."""

    check: Callable[[dict[str, str], bytes], None] = lambda headers, body: None
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""

    def serve(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                receiver.received.append((headers, body))
                try:
                    receiver.check(headers, body)
                    status = 200
                except verify.SignatureError as exc:
                    receiver.rejected.append(str(exc))
                    status = 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from Receiver().serve()


def _header(headers: dict[str, str], name: str) -> str:
    return next(v for k, v in headers.items() if k.lower() == name.lower())


def _js_stringify_without_signature(body: bytes) -> bytes:
    # JSON.stringify of the parsed body minus `signature`: received key order, no spaces, UTF-8 as is.
    payload = {k: v for k, v in json.loads(body).items() if k != "signature"}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def test_kotanipay_trigger_is_accepted_by_verify(receiver: Receiver) -> None:
    receiver.check = lambda h, b: verify.kotanipay(h, b, secret=SECRET)
    done = trigger("kotanipay", "payment.confirmed", forward_to=receiver.url, signing={"secret": SECRET})
    assert done.status == 200 and receiver.rejected == []
    headers, body = receiver.received[0]
    expected = hmac.new(SECRET.encode(), _js_stringify_without_signature(body), hashlib.sha256).hexdigest()
    assert _header(headers, "X-Kotani-Signature") == f"sha256={expected}"
    parsed = json.loads(body)
    assert list(parsed) == ["event", "data", "signature"] and parsed["event"] == "payment.confirmed"
    assert parsed["signature"] == f"sha256={expected}"


def test_velafi_trigger_is_accepted_by_verify_with_the_printed_public_key(receiver: Receiver) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    done = trigger("velafi", "FUNDING_WEBHOOK")
    public_key = done.verify_with["public_key"]
    receiver.check = lambda h, b: verify.velafi(h, b, public_key=public_key)
    httpx.post(receiver.url, content=done.delivery.body, headers=done.delivery.headers)
    assert receiver.rejected == []
    headers, body = receiver.received[0]
    key = serialization.load_der_public_key(base64.b64decode(public_key))
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(bytes.fromhex(_header(headers, "signature")), body, padding.PKCS1v15(), hashes.SHA256())
    assert json.loads(body)["eventType"] == "FUNDING_WEBHOOK"


def test_velafi_trigger_signs_with_a_given_private_key(tmp_path: Any, receiver: Receiver) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_key = base64.b64encode(spki).decode()
    receiver.check = lambda h, b: verify.velafi(h, b, public_key=public_key)
    done = trigger("velafi", "ORDER_WEBHOOK", forward_to=receiver.url, signing={"private_key": pem})
    assert done.status == 200 and done.verify_with == {"public_key": public_key}


def test_safepay_trigger_is_accepted_by_verify(receiver: Receiver) -> None:
    receiver.check = lambda h, b: verify.safepay(h, b, secret=SAFEPAY_SECRET)
    done = trigger("safepay", "payment.completed", forward_to=receiver.url, signing={"secret": SAFEPAY_SECRET})
    assert done.status == 200 and receiver.rejected == []
    headers, body = receiver.received[0]
    stamp = _header(headers, "X-SFPY-TIMESTAMP")
    expected = hmac.new(base64.b64decode(SAFEPAY_SECRET), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert _header(headers, "X-SFPY-SIGNATURE") == f"sha256={expected}"
    assert _header(headers, "X-SFPY-EVENT-TYPE") == "payment.completed"


def test_spritz_trigger_is_accepted_by_verify(receiver: Receiver) -> None:
    receiver.check = lambda h, b: verify.spritz(h, b, secret=SECRET)
    done = trigger("spritz", "payment.completed", forward_to=receiver.url, signing={"secret": SECRET})
    assert done.status == 200 and receiver.rejected == []
    headers, body = receiver.received[0]
    assert _header(headers, "Signature") == hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_phonepe_trigger_is_accepted_by_verify(receiver: Receiver) -> None:
    receiver.check = lambda h, b: verify.phonepe(h, b, username="merchant01", password="Secr3tPass")
    done = trigger("phonepe", "pg.refund.completed", forward_to=receiver.url,
                   signing={"username": "merchant01", "password": "Secr3tPass"})
    assert done.status == 200 and receiver.rejected == []
    headers, body = receiver.received[0]
    assert _header(headers, "Authorization") == hashlib.sha256(b"merchant01:Secr3tPass").hexdigest()
    assert json.loads(body)["event"] == "pg.refund.completed"


def test_a_receiver_with_the_wrong_secret_rejects_the_trigger(receiver: Receiver) -> None:
    receiver.check = lambda h, b: verify.spritz(h, b, secret="another-secret")
    done = trigger("spritz", "payment.completed", forward_to=receiver.url, signing={"secret": SECRET})
    assert done.status == 401 and receiver.rejected


@pytest.mark.parametrize("provider", NAMES)
def test_every_documented_event_can_be_triggered_and_made_up_secrets_are_returned(provider: str) -> None:
    check: Callable[..., None] = getattr(verify, provider)
    for event in events(provider)[:3]:
        done = trigger(provider, event)
        check(done.delivery.headers, done.delivery.body, **done.verify_with)


@pytest.mark.parametrize(
    ("provider", "event", "message"),
    [("phonepe", "pg.refund.complete", "did you mean 'pg.refund.completed'"),
     ("velafi", "ORDER", "ORDER_WEBHOOK"), ("spritz", "*", "unknown spritz event"),
     ("stripe", "charge.succeeded", "unknown provider")],
)
def test_unknown_events_and_providers_are_refused(provider: str, event: str, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        trigger(provider, event)


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://localhost.attacker.example/x"])
def test_trigger_forwards_only_to_loopback(url: str) -> None:
    with pytest.raises(WebhookError, match="loopback"):
        trigger("spritz", "payment.completed", forward_to=url)


def test_cli_trigger_prints_json_and_errors_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trigger", "spritz", "payment.completed", "--secret", SECRET]) == 0
    out = json.loads(capsys.readouterr().out)
    digest = hmac.new(SECRET.encode(), out["body"].encode(), hashlib.sha256).hexdigest()
    assert out["headers"]["Signature"] == digest and out["verify_with"] == {"secret": SECRET}
    assert main(["trigger", "spritz", "payment.complete"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "did you mean 'payment.completed'" in captured.err


def test_cli_trigger_forward_to_fails_when_the_receiver_refuses(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.check = lambda h, b: verify.spritz(h, b, secret="not-this-one")
    assert main(["trigger", "spritz", "payment.completed", "--forward-to", receiver.url]) == 1
    captured = capsys.readouterr()
    assert ": 401" in captured.out and "answered 401" in captured.err


# -- listen ---------------------------------------------------------------------------------------




def _safepay_create(server: SandboxServer, url: str) -> dict[str, Any]:
    settings = server.sandbox.stack_config()
    answer = httpx.post(
        f"{settings['safepay:baseUrl']}/v1/aggregators/{settings['safepay:aggregatorId']}/webhooks",
        headers={"X-SFPY-AGGREGATOR-SECRET-KEY": settings["safepay:secretKey"]},
        json={"url": url, "event_types": ["payment.completed"]},
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_listen_forwards_a_signed_delivery_for_each_webhook_made_or_changed(
    sandbox_server: SandboxServer, receiver: Receiver
) -> None:
    before = _safepay_create(sandbox_server, "https://hooks.example.com/before")
    listener = Listener(sandbox_server.url, receiver.url)
    try:
        assert listener.poll() == 0  # what existed before listening is not forwarded
        made = _safepay_create(sandbox_server, "https://hooks.example.com/safepay")
        receiver.check = lambda h, b: verify.safepay(h, b, secret=made["secret"])
        assert listener.poll() == 1
        assert receiver.rejected == [] and len(receiver.received) == 1
        assert listener.forwarded[0]["webhook_id"] == made["endpoint"]["token"]
        assert listener.poll() == 0  # nothing changed since
        httpx.get(f"{sandbox_server.url}/_sandbox/webhooks/safepay")  # reads change nothing
        assert listener.poll() == 0
        settings = sandbox_server.sandbox.stack_config()
        base = f"{settings['safepay:baseUrl']}/v1/aggregators/{settings['safepay:aggregatorId']}/webhooks"
        changed = httpx.put(f"{base}/{made['endpoint']['token']}", json={"description": "changed"},
                            headers={"X-SFPY-AGGREGATOR-SECRET-KEY": settings["safepay:secretKey"]})
        assert changed.status_code == 200
        assert listener.poll() == 1 and len(receiver.received) == 2 and receiver.rejected == []
        assert before["endpoint"]["token"] not in {f["webhook_id"] for f in listener.forwarded}
    finally:
        listener.close()


def test_listen_runs_until_stopped(sandbox_server: SandboxServer, receiver: Receiver) -> None:
    listener = Listener(sandbox_server.url, receiver.url, interval=0.05)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    try:
        made = _safepay_create(sandbox_server, "https://hooks.example.com/safepay")
        receiver.check = lambda h, b: verify.safepay(h, b, secret=made["secret"])
        for _ in range(100):
            if receiver.received:
                break
            threading.Event().wait(0.05)
        assert len(receiver.received) == 1 and receiver.rejected == []
    finally:
        listener.stop()
        thread.join(timeout=5)
        listener.close()
    assert not thread.is_alive()


def test_listen_refuses_a_remote_target_and_a_missing_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(WebhookError, match="loopback"):
        Listener("http://127.0.0.1:9", "http://hooks.example.com/x")
    assert main(["listen", "--sandbox", "http://127.0.0.1:9", "--forward-to", "http://127.0.0.1:9/x"]) == 1
    assert "no sandbox at http://127.0.0.1:9" in capsys.readouterr().err
