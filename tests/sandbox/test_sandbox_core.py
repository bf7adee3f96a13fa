"""The sandbox framework: routing, journal, faults, persistence, admin API, HTTP server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_webhooks.sandbox import (
    PROVIDERS,
    Delivery,
    HTTPError,
    ProviderApp,
    Request,
    Response,
    Sandbox,
    SandboxServer,
    apps,
)

from ..helpers import SANDBOX_URL, sandbox_client


class EchoApp(ProviderApp):
    name = "echo"
    title = "Echo"

    def initial_data(self) -> dict[str, Any]:
        return {"hooks": {}}

    def routes(self) -> None:
        self.router.add("POST", "/hooks", self.create)
        self.router.add("GET", "/hooks/{hook_id}", self.get)

    def credentials(self) -> dict[str, str]:
        return {"apiKey": "echo-key"}

    def secret_settings(self) -> set[str]:
        return {"apiKey"}

    def create(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer echo-key":
            raise HTTPError(401, "who are you")
        hook_id = f"h{len(self.data['hooks']) + 1}"
        self.data["hooks"][hook_id] = self.json_body(request)
        return Response(201, {"id": hook_id})

    def get(self, request: Request, hook_id: str) -> Response:
        if hook_id not in self.data["hooks"]:
            raise HTTPError(404, "no such hook")
        return Response(200, {"id": hook_id, **self.data["hooks"][hook_id]})

    def webhooks(self) -> list[dict[str, Any]]:
        return [{"id": k, **v} for k, v in self.data["hooks"].items()]

    def remove(self, webhook_id: str) -> None:
        if self.data["hooks"].pop(webhook_id, None) is None:
            raise HTTPError(404, "no such hook")

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        return Delivery("https://receiver.example/hook", {"X-Event": event or "ping"}, b"{}")


AUTH = {"Authorization": "Bearer echo-key"}


def test_every_provider_has_an_app() -> None:
    assert [a.name for a in apps()] == list(PROVIDERS)


def test_routes_errors_and_journal_never_holds_credentials() -> None:
    sb = Sandbox(providers=[EchoApp])
    c = sandbox_client(sb)
    assert c.post("/echo/hooks", json={"url": "u"}, headers=AUTH).status_code == 201
    assert c.post("/echo/hooks", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/echo/hooks/h1").json() == {"id": "h1", "url": "u"}
    assert c.get("/echo/hooks/h9").status_code == 404
    assert c.delete("/echo/hooks/h1").status_code == 405
    assert c.get("/nowhere/x").status_code == 404
    journal = c.get("/_sandbox/journal").json()
    assert [(r["method"], r["path"], r["status"]) for r in journal] == [
        ("POST", "/echo/hooks", 201), ("POST", "/echo/hooks", 401), ("GET", "/echo/hooks/h1", 200),
        ("GET", "/echo/hooks/h9", 404), ("DELETE", "/echo/hooks/h1", 405),
    ]
    assert "echo-key" not in json.dumps(journal)
    assert c.get("/_sandbox/journal", params={"since": journal[-1]["seq"]}).json() == []
    # The route that served each request, and the bytes answered (a 405 had no route).
    assert [r["route"] for r in journal] == [
        "POST /hooks", "POST /hooks", "GET /hooks/{hook_id}", "GET /hooks/{hook_id}", "",
    ]
    assert journal[0]["bytes"] == len(json.dumps({"id": "h1"}).encode())
    assert journal[2]["bytes"] == len(json.dumps({"id": "h1", "url": "u"}).encode())


def test_faults_before_and_after_commit_and_retry_after() -> None:
    sb = Sandbox(providers=[EchoApp], seed=3)
    c = sandbox_client(sb)
    c.post("/_sandbox/faults", json={"provider": "echo", "method": "POST", "status": 429, "retry_after": 2,
                                     "count": 1})
    r = c.post("/echo/hooks", json={}, headers=AUTH)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert sb.apps["echo"].data["hooks"] == {}  # not processed

    c.post("/_sandbox/faults", json={"method": "POST", "status": 503, "after_commit": True, "count": 1})
    assert c.post("/echo/hooks", json={}, headers=AUTH).status_code == 503
    assert list(sb.apps["echo"].data["hooks"]) == ["h1"]  # processed, answer lost

    c.post("/_sandbox/faults", json={"method": "POST", "drop": True, "after_commit": True, "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        c.post("/echo/hooks", json={}, headers=AUTH)
    assert list(sb.apps["echo"].data["hooks"]) == ["h1", "h2"]
    assert c.post("/echo/hooks", json={}, headers=AUTH).status_code == 201  # rules used up
    assert c.get("/_sandbox/faults").json()[0]["count"] == 0
    assert c.delete("/_sandbox/faults").status_code == 204
    assert c.post("/_sandbox/faults", json={"colour": "red"}).status_code == 400


def test_fault_rate_is_a_probability_and_seeded() -> None:
    def failures(seed: int) -> int:
        sb = Sandbox(providers=[EchoApp], seed=seed)
        c = sandbox_client(sb)
        c.post("/_sandbox/faults", json={"path": "/echo/hooks/", "status": 500, "rate": 0.3})
        c.post("/echo/hooks", json={}, headers=AUTH)
        return sum(c.get("/echo/hooks/h1").status_code == 500 for _ in range(200))

    assert failures(7) == failures(7)
    assert 30 < failures(7) < 90


def test_latency_fault_delays_the_answer() -> None:
    sb = Sandbox(providers=[EchoApp])
    c = sandbox_client(sb)
    c.post("/_sandbox/faults", json={"latency": 0.2, "count": 1})
    started = time.perf_counter()
    c.post("/echo/hooks", json={}, headers=AUTH)
    assert time.perf_counter() - started >= 0.2


def test_state_file_survives_restarts_and_reset_empties_it(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.json")
    sb = Sandbox(state_path=path, providers=[EchoApp])
    sandbox_client(sb).post("/echo/hooks", json={"url": "kept"}, headers=AUTH)
    again = Sandbox(state_path=path, providers=[EchoApp])
    assert sandbox_client(again).get("/echo/hooks/h1").json()["url"] == "kept"
    sandbox_client(again).post("/_sandbox/reset")
    assert Sandbox(state_path=path, providers=[EchoApp]).apps["echo"].data == {"hooks": {}}


def test_admin_lists_removes_and_delivers_to_loopback_only() -> None:
    sb = Sandbox(providers=[EchoApp], base_url=SANDBOX_URL)
    c = sandbox_client(sb)
    c.post("/echo/hooks", json={"url": "u"}, headers=AUTH)
    assert c.get("/_sandbox/webhooks/echo").json() == [{"id": "h1", "url": "u"}]
    assert c.get("/_sandbox/webhooks/nope").status_code == 404
    preview = c.post("/_sandbox/deliver/echo/h1", json={"event": "paid", "send": False}).json()
    assert preview == {"url": "https://receiver.example/hook", "headers": {"X-Event": "paid"}, "body": "{}"}
    refused = c.post("/_sandbox/deliver/echo/h1", json={})
    assert refused.status_code == 400 and "loopback" in refused.json()["error"]
    assert c.delete("/_sandbox/webhooks/echo/h1").status_code == 204
    assert c.delete("/_sandbox/webhooks/echo/h1").status_code == 404
    settings = c.get("/_sandbox/config").json()
    assert settings == {"config": {"echo:baseUrl": "http://sandbox.invalid/echo", "echo:apiKey": "echo-key"},
                        "secrets": ["echo:apiKey"]}



def test_admin_routes_are_made_once_and_each_sandbox_answers_with_its_own_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pulumi_webhooks.sandbox import _app

    first, second = Sandbox(providers=[EchoApp]), Sandbox(providers=[EchoApp])
    sandbox_client(first).post("/echo/hooks", json={"url": "u"}, headers=AUTH)
    added: list[str] = []
    monkeypatch.setattr(_app.Router, "add", lambda self, method, pattern, handler: added.append(pattern))
    assert sandbox_client(first).get("/_sandbox/webhooks/echo").json() == [{"id": "h1", "url": "u"}]
    assert sandbox_client(second).get("/_sandbox/webhooks/echo").json() == []
    assert sandbox_client(second).get("/_sandbox/nowhere").status_code == 404
    assert added == []

def test_http_server_serves_concurrently_drops_and_stops() -> None:
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    server = SandboxServer(Sandbox(providers=[EchoApp])).start()
    assert time.perf_counter() - started < 1.0
    try:
        with httpx.Client(base_url=server.url) as c:
            c.post("/_sandbox/faults", json={"path": "/slow", "latency": 0.3})
            with ThreadPoolExecutor(8) as pool:
                t0 = time.perf_counter()
                codes = list(pool.map(lambda _: httpx.get(f"{server.url}/echo/slow").status_code, range(8)))
                assert time.perf_counter() - t0 < 1.5  # served in parallel, not 8 x 0.3 s
            assert codes == [404] * 8
            c.post("/_sandbox/faults", json={"path": "/drop", "drop": True})
            with pytest.raises(httpx.RemoteProtocolError):
                c.get("/echo/drop")
            assert c.post("/echo/hooks", json={"url": "u"}, headers=AUTH).status_code == 201
    finally:
        server.stop()
