"""VelaFi webhooks through the real Pulumi engine, against the sandbox on a loopback port."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pulumi

from pulumi_webhooks import velafi, verify
from pulumi_webhooks.sandbox import SandboxServer
from pulumi_webhooks.sandbox.velafi import VelaFiApp

from .conftest import StackFactory
from .harness import EngineStack, assert_no_plaintext, changes, outside_secrets

URL = "https://hooks.example.com/velafi"
URL2 = "https://hooks.example.com/velafi-2"


def program_of(settings: dict[str, Any]) -> Callable[[], None]:
    """A program declaring one webhook from ``settings`` (read at each operation)."""

    def program() -> None:
        hook = velafi.Webhook("hook", **settings)
        pulumi.export("webhook_id", hook.webhook_id)
        pulumi.export("public_key", hook.public_key)
        pulumi.export("status", hook.status)

    return program


def assert_no_secret_in_state(stack: EngineStack, server: SandboxServer, *, webhook: bool = True) -> None:
    """Credentials and tokens are never stored in plaintext."""
    tokens = list(server.sandbox.apps["velafi"].data["tokens"])
    assert tokens, "the provider used tokens"
    assert '"resources"' in stack.state_text()
    assert_no_plaintext(stack, [VelaFiApp.API_KEY, VelaFiApp.API_SECRET, *tokens])
    if webhook:  # its own properties are there unencrypted: nothing of a VelaFi webhook is secret
        assert '"public_key": "MII' in json.dumps(outside_secrets(stack.export_state()))


def test_velafi_webhook_lifecycle(engine_stack: StackFactory, sandbox_server: SandboxServer) -> None:
    settings: dict[str, Any] = {"event_type": "ORDER_WEBHOOK", "url": URL}
    stack = engine_stack(program_of(settings))

    # preview calls nothing at all
    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 2}
    assert stack.journal(mark, "velafi") == []

    # up creates
    assert changes(stack.up()) == {"create": 2}
    first = stack.outputs()
    hook = stack.only_webhook("velafi")
    assert hook["webhookId"] == first["webhook_id"]
    # VelaFi shows an active webhook as status 1 (its docs' examples); the output says 10.
    assert (hook["eventType"], hook["url"], hook["status"]) == ("ORDER_WEBHOOK", URL, 1)
    assert first["public_key"] == hook["publicKey"]
    assert first["status"] == 10
    delivery = sandbox_server.sandbox.apps["velafi"].delivery(hook["webhookId"], None)
    verify.velafi(delivery.headers, delivery.body, public_key=first["public_key"])

    # nothing changed: nothing to do
    assert changes(stack.preview()) == {}

    # url and enabled change in place
    settings.update(url=URL2, enabled=False)
    mark = stack.last_seq()
    assert changes(stack.up()) == {"update": 1}
    assert stack.write_calls(mark, "velafi") == [("PUT", f"/velafi/v2/webhook/{first['webhook_id']}")]
    hook = stack.only_webhook("velafi")
    assert (hook["webhookId"], hook["url"], hook["status"]) == (first["webhook_id"], URL2, 20)
    assert stack.outputs()["status"] == 20

    # event_type is immutable: a new webhook replaces the old one
    settings["event_type"] = "STABLE_COIN_PAYMENT_WEBHOOK"
    assert changes(stack.up()) == {"replace": 1}
    second = stack.outputs()
    assert second["webhook_id"] != first["webhook_id"]
    assert second["public_key"] != first["public_key"]
    hook = stack.only_webhook("velafi")
    assert (hook["webhookId"], hook["eventType"], hook["url"], hook["status"]) == (
        second["webhook_id"], "STABLE_COIN_PAYMENT_WEBHOOK", URL2, 20)

    # a dashboard change is found by refresh and undone by up
    stack.edit("velafi", second["webhook_id"], {"url": "https://dashboard.example.com/x", "status": 10})
    assert changes(stack.refresh()) == {"update": 1}
    [resource] = stack.resources("velafi:Webhook")
    assert resource["outputs"]["url"] == "https://dashboard.example.com/x"
    assert changes(stack.up()) == {"update": 1}
    hook = stack.only_webhook("velafi")
    assert (hook["url"], hook["status"]) == (URL2, 20)

    # a dashboard delete is dropped by refresh and recreated by up
    stack.remove("velafi", second["webhook_id"])
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    third = stack.outputs()
    hook = stack.only_webhook("velafi")
    assert hook["webhookId"] == third["webhook_id"] != second["webhook_id"]
    assert (hook["eventType"], hook["url"], hook["status"]) == ("STABLE_COIN_PAYMENT_WEBHOOK", URL2, 20)
    assert_no_secret_in_state(stack, sandbox_server)

    # destroy leaves nothing behind
    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("velafi") == []
    assert stack.resources() == []
    assert_no_secret_in_state(stack, sandbox_server, webhook=False)


def _create_directly(server: SandboxServer, url: str) -> dict[str, Any]:
    """A webhook made outside Pulumi (another tool, the dashboard)."""
    with httpx.Client(base_url=f"{server.url}/velafi", timeout=30) as client:
        timestamp = str(int(time.time() * 1000))
        message = f"timestamp={timestamp}".encode()
        signature = hmac.new(VelaFiApp.API_SECRET.encode(), message, hashlib.sha256).hexdigest()
        token = client.get(
            "/v2/token/generate",
            params={"timestamp": timestamp, "signature": signature},
            headers={"X-BH-APIKEY": VelaFiApp.API_KEY},
        ).json()["data"]["token"]
        answer = client.post("/v2/webhook", json={"eventType": "GLOBAL_PAYMENT_WEBHOOK", "url": url},
                             headers={"X-BH-TOKEN": token})
        made: dict[str, Any] = answer.json()["data"]
        return made


def test_velafi_adoption_by_webhook_id(engine_stack: StackFactory, sandbox_server: SandboxServer) -> None:
    existing = _create_directly(sandbox_server, URL)
    settings: dict[str, Any] = {"event_type": "GLOBAL_PAYMENT_WEBHOOK", "url": URL,
                                "webhook_id": existing["webhookId"]}
    stack = engine_stack(program_of(settings))

    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 2}
    assert stack.write_calls(mark, "velafi") == []  # adopted as it is: no create, no update
    assert stack.outputs()["webhook_id"] == existing["webhookId"]
    assert stack.outputs()["public_key"] == existing["publicKey"]
    assert stack.webhooks("velafi") == [existing]
    assert changes(stack.preview()) == {}

    # Adopted means managed: destroy deletes it.
    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("velafi") == []
