"""PhonePe webhooks through the real Pulumi engine, against the loopback sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pulumi

from pulumi_webhooks import phonepe

from .conftest import StackFactory
from .harness import EngineStack, changes

PASSWORD = "Decl4redPass"
DASHBOARD_PASSWORD = "Dashb0ardPass"
URL = "https://hooks.example.com/phonepe"
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def program(url: str = URL, enabled: bool = True, webhook_id: str | None = None) -> None:
    hook = phonepe.Webhook(
        "orders",
        url=url,
        events=["pg.order.failed", "pg.order.completed"],
        username="merchant01",
        password=PASSWORD,
        description="orders",
        enabled=enabled,
        webhook_id=webhook_id,
    )
    pulumi.export("webhook_id", hook.webhook_id)
    pulumi.export("created_at", hook.created_at)


def only_webhook(stack: EngineStack) -> dict[str, Any]:
    held = stack.webhooks("phonepe")
    assert len(held) == 1, held
    return held[0]


def stored_state(stack: EngineStack) -> str:
    """Every file the backend keeps (checkpoints, backups, history) as stored.

    ``export_stack`` of the Automation API passes ``--show-secrets``, so the
    files themselves are what must hold no plaintext.
    """
    backend = Path(urlsplit(stack.stack.workspace.env_vars["PULUMI_BACKEND_URL"]).path)
    files = sorted(p for p in (backend / ".pulumi").rglob("*") if p.is_file())
    assert files, f"no backend files under {backend}"
    return "\n".join(p.read_text(errors="replace") for p in files)


def assert_no_plaintext_secret(stack: EngineStack) -> None:
    stored = stored_state(stack)
    credentials = [v for k, v in stack.admin.get("/config").json()["config"].items() if k in stack.secret_keys]
    assert credentials
    for value in [PASSWORD, DASHBOARD_PASSWORD, *credentials]:
        assert value not in stored, f"{value[:3]}… is stored in plaintext"
    # The password is there, as a secret: the exported (decrypted) state marks it so.
    for resource in stack.resources(":Webhook"):
        for section in ("inputs", "outputs"):
            assert SECRET_SIG in resource[section]["password"], (section, resource[section]["password"])


def test_lifecycle_drift_and_destroy(engine_stack: StackFactory) -> None:
    stack = engine_stack(program)

    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 2}
    assert stack.writes(mark, "phonepe") == []

    assert changes(stack.up()) == {"create": 2}
    hook = only_webhook(stack)
    webhook_id = stack.outputs()["webhook_id"]
    assert hook["id"] == webhook_id
    assert (hook["url"], hook["username"], hook["password"], hook["enabled"]) == (URL, "merchant01", PASSWORD, True)
    assert hook["events"] == ["pg.order.completed", "pg.order.failed"]
    assert_no_plaintext_secret(stack)

    mark = stack.last_seq()
    assert changes(stack.preview()) == {}
    assert stack.writes(mark, "phonepe") == []

    # In place: a new URL, and disabled (PhonePe's PUT carries `enabled`).
    stack.set_program(lambda: program(url=f"{URL}/v2", enabled=False))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"update": 1}
    assert [w["method"] for w in stack.writes(mark, "phonepe")] == ["PUT"]
    hook = only_webhook(stack)
    assert hook["id"] == webhook_id and hook["url"] == f"{URL}/v2" and hook["enabled"] is False

    # A dashboard change, the password included: refresh shows it, up puts the declaration back.
    stack.edit("phonepe", webhook_id, {"password": DASHBOARD_PASSWORD, "description": "changed by hand"})
    assert changes(stack.refresh()) == {"update": 1}
    assert_no_plaintext_secret(stack)
    assert changes(stack.up()) == {"update": 1}
    hook = only_webhook(stack)
    assert (hook["password"], hook["description"]) == (PASSWORD, "orders")

    # A dashboard delete: refresh drops it, up makes it again.
    stack.remove("phonepe", webhook_id)
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    hook = only_webhook(stack)
    assert hook["id"] != webhook_id and hook["enabled"] is False
    assert stack.outputs()["webhook_id"] == hook["id"]
    assert_no_plaintext_secret(stack)

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("phonepe") == []
    assert stack.resources() == []


def test_adoption_by_webhook_id_creates_nothing(engine_stack: StackFactory) -> None:
    stack = engine_stack(program)
    config = stack.admin.get("/config").json()["config"]
    with httpx.Client(base_url=config["phonepe:baseUrl"], timeout=30) as api:
        token = api.post("/v1/oauth/token", data={
            "client_id": config["phonepe:clientId"], "client_secret": config["phonepe:clientSecret"],
            "client_version": config["phonepe:clientVersion"], "grant_type": "client_credentials",
        }).raise_for_status().json()["access_token"]
        existing = api.post("/configs/v1/webhooks", headers={"Authorization": f"O-Bearer {token}"}, json={
            "url": URL, "description": "orders", "username": "merchant01", "password": PASSWORD,
            "events": ["pg.order.completed", "pg.order.failed"],
        }).raise_for_status().json()

    stack.set_program(lambda: program(webhook_id=existing["id"]))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 2}
    assert stack.writes(mark, "phonepe") == []
    assert only_webhook(stack) == existing
    assert stack.outputs()["webhook_id"] == existing["id"]
    assert stack.outputs()["created_at"] == existing["createdAt"]
    assert changes(stack.preview()) == {}
    assert_no_plaintext_secret(stack)

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("phonepe") == []
