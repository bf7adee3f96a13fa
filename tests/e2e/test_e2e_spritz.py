"""Spritz with the real Pulumi engine against the loopback sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pulumi

from pulumi_webhooks import spritz, verify
from pulumi_webhooks.sandbox.spritz import API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET

from .conftest import StackFactory
from .harness import EngineStack, changes

URL = "https://hooks.example.com/spritz"
CREDENTIALS = (API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET)


def program(url: str = URL, events: Sequence[str] = ("payment.completed",), secret: str | None = None,
            webhook_id: str | None = None) -> Callable[[], None]:
    def run() -> None:
        opts = None
        if secret is not None:
            signing = spritz.WebhookSecret("signing", secret=secret)
            opts = pulumi.ResourceOptions(depends_on=[signing])
        hook = spritz.IntegratorWebhook("hook", url=url, events=list(events), webhook_id=webhook_id, opts=opts)
        pulumi.export("webhook_id", hook.webhook_id)
        pulumi.export("failure_count", hook.failure_count)
        pulumi.export("disabled", hook.disabled)

    return run


SECRET_SIG = "4dabf18193072939515e22adb298388d"


def outside_secrets(value: Any) -> Any:
    """The exported state with every secret-marked value taken out.

    The Automation API exports with --show-secrets, so secrets appear there as
    ``{SECRET_SIG: …, "plaintext": …}``; anything left afterwards is stored in the clear.
    """
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "[secret]"
        return {k: outside_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [outside_secrets(v) for v in value]
    return value


def stored_files_text(stack: EngineStack) -> str:
    """Every file of the stack's file:// backend, as stored on disk."""
    backend = Path(stack.stack.workspace.env_vars["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return "\n".join(p.read_text(errors="replace") for p in backend.rglob("*") if p.is_file())


def writes(stack: EngineStack, since: int) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in stack.writes(since, "spritz")]


def only_webhook(stack: EngineStack) -> dict[str, Any]:
    (webhook,) = stack.webhooks("spritz")
    return webhook


def delivered_with(stack: EngineStack, webhook_id: str, secret: str) -> None:
    answer = stack.admin.post(f"/deliver/spritz/{webhook_id}", json={"send": False}).raise_for_status().json()
    verify.spritz(answer["headers"], answer["body"].encode(), secret=secret)


def test_preview_create_update_replace_rotate_destroy(engine_stack: StackFactory) -> None:
    stack = engine_stack(program(secret="spritz-signing-e2e-01"))
    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 3}
    assert writes(stack, mark) == [], "preview must not write"

    assert changes(stack.up()) == {"create": 3}
    first = only_webhook(stack)
    assert first["url"] == URL and first["events"] == ["payment.completed"]
    assert stack.outputs() == {"webhook_id": first["id"], "failure_count": 0, "disabled": False}
    delivered_with(stack, first["id"], "spritz-signing-e2e-01")
    assert changes(stack.preview()) == {}

    mark = stack.last_seq()
    stack.set_program(program(events=["onramp.completed", "payment.completed"], secret="spritz-signing-e2e-01"))
    assert changes(stack.up()) == {"update": 1}
    assert writes(stack, mark) == [("PATCH", f"/spritz/v1/integrator/webhooks/{first['id']}")]
    assert only_webhook(stack)["events"] == ["onramp.completed", "payment.completed"]

    mark = stack.last_seq()
    stack.set_program(program(url=f"{URL}/v2", events=["onramp.completed", "payment.completed"],
                              secret="spritz-signing-e2e-02"))
    assert changes(stack.up()) == {"replace": 1, "update": 1}
    second = only_webhook(stack)
    assert second["id"] != first["id"] and second["url"] == f"{URL}/v2"
    assert writes(stack, mark) == [
        ("POST", "/spritz/v1/integrator/webhook-secret"),
        ("POST", "/spritz/v1/integrator/webhooks"),
        ("DELETE", f"/spritz/v1/integrator/webhooks/{first['id']}"),
    ]
    delivered_with(stack, second["id"], "spritz-signing-e2e-02")
    assert stack.outputs()["webhook_id"] == second["id"]

    exported = stack.export_state()
    clear = json.dumps(outside_secrets(exported))
    on_disk = stored_files_text(stack)
    for value in (*CREDENTIALS, "spritz-signing-e2e-01", "spritz-signing-e2e-02"):
        assert value not in clear, f"{value[:4]}… is in the state in plaintext"
        assert value not in on_disk, f"{value[:4]}… is stored in plaintext"
    (secret_resource,) = stack.resources("spritz:WebhookSecret")
    assert secret_resource["id"] == "webhook-secret"
    for props in ("inputs", "outputs"):
        assert SECRET_SIG in secret_resource[props]["secret"], props
        assert secret_resource[props]["secret"]["plaintext"] == '"spritz-signing-e2e-02"'

    mark = stack.last_seq()
    assert changes(stack.destroy()) == {"delete": 3}
    assert stack.webhooks("spritz") == []
    assert writes(stack, mark) == [("DELETE", f"/spritz/v1/integrator/webhooks/{second['id']}")]
    assert stack.resources() == []


def test_refresh_finds_dashboard_changes_disabling_and_deletion(engine_stack: StackFactory) -> None:
    declared = ["account.created", "payment.completed"]
    stack = engine_stack(program(events=declared))
    assert changes(stack.up()) == {"create": 2}
    first = only_webhook(stack)

    # A dashboard user changes the events: refresh shows it, up puts the declaration back.
    stack.edit("spritz", first["id"], {"events": ["payment.refunded"]})
    assert changes(stack.refresh()) == {"update": 1}
    assert changes(stack.up()) == {"update": 1}
    assert only_webhook(stack)["events"] == declared

    # Spritz disables it after failed deliveries: refresh shows it, up replaces it (no re-enable).
    stack.edit("spritz", first["id"], {"disabled": True, "failureCount": 10})
    assert changes(stack.refresh()) == {"update": 1}
    (stored,) = stack.resources("spritz:IntegratorWebhook")
    assert stored["outputs"]["disabled"] is True and stored["outputs"]["failure_count"] == 10
    mark = stack.last_seq()
    assert changes(stack.up()) == {"replace": 1}
    second = only_webhook(stack)
    assert second["id"] != first["id"] and second["disabled"] is False and second["events"] == declared
    assert [m for m, _ in writes(stack, mark)] == ["POST", "DELETE"]
    assert stack.outputs() == {"webhook_id": second["id"], "failure_count": 0, "disabled": False}

    # Deleted in the dashboard: refresh drops it, up creates it again.
    stack.remove("spritz", second["id"])
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    third = only_webhook(stack)
    assert third["url"] == URL and third["events"] == declared


def test_adoption_by_webhook_id_creates_nothing(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    existing = httpx.post(
        f"{stack.sandbox_url}/spritz/v1/integrator/webhooks",
        content=json.dumps({"url": URL, "events": ["payment.created"]}),
        headers={"Authorization": f"Bearer {API_KEY}", "X-INTEGRATION-KEY": INTEGRATOR_KEY,
                 "Content-Type": "application/json"},
    ).raise_for_status().json()

    stack.set_program(program(events=["payment.completed"], webhook_id=existing["id"]))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 2}
    assert writes(stack, mark) == [("PATCH", f"/spritz/v1/integrator/webhooks/{existing['id']}")]
    assert only_webhook(stack) == {**existing, "events": ["payment.completed"]}
    assert stack.outputs()["webhook_id"] == existing["id"]
    assert changes(stack.preview()) == {}

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("spritz") == []
