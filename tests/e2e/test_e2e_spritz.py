"""Spritz with the real Pulumi engine against the loopback sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx
import pulumi

from pulumi_webhooks import spritz, verify
from pulumi_webhooks.sandbox.spritz import API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET

from .conftest import StackFactory
from .harness import SECRET_SIG, EngineStack, assert_no_plaintext, changes

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


def delivered_with(stack: EngineStack, webhook_id: str, secret: str) -> None:
    verify.spritz(*stack.delivery("spritz", webhook_id), secret=secret)


def test_preview_create_update_replace_rotate_destroy(engine_stack: StackFactory) -> None:
    stack = engine_stack(program(secret="spritz-signing-e2e-01"))
    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 3}
    assert stack.write_calls(mark, "spritz") == [], "preview must not write"

    assert changes(stack.up()) == {"create": 3}
    first = stack.only_webhook("spritz")
    assert first["url"] == URL and first["events"] == ["payment.completed"]
    assert stack.outputs() == {"webhook_id": first["id"], "failure_count": 0, "disabled": False}
    delivered_with(stack, first["id"], "spritz-signing-e2e-01")
    assert changes(stack.preview()) == {}

    mark = stack.last_seq()
    stack.set_program(program(events=["onramp.completed", "payment.completed"], secret="spritz-signing-e2e-01"))
    assert changes(stack.up()) == {"update": 1}
    assert stack.write_calls(mark, "spritz") == [("PATCH", f"/spritz/v1/integrator/webhooks/{first['id']}")]
    assert stack.only_webhook("spritz")["events"] == ["onramp.completed", "payment.completed"]

    mark = stack.last_seq()
    stack.set_program(program(url=f"{URL}/v2", events=["onramp.completed", "payment.completed"],
                              secret="spritz-signing-e2e-02"))
    assert changes(stack.up()) == {"replace": 1, "update": 1}
    second = stack.only_webhook("spritz")
    assert second["id"] != first["id"] and second["url"] == f"{URL}/v2"
    # The local sandbox takes PUT only (its default): POST, tried first at a host other than
    # sandbox.spritz.finance, is answered 405 and PUT follows.
    assert stack.write_calls(mark, "spritz") == [
        ("POST", "/spritz/v1/integrator/webhook-secret"),
        ("PUT", "/spritz/v1/integrator/webhook-secret"),
        ("POST", "/spritz/v1/integrator/webhooks"),
        ("DELETE", f"/spritz/v1/integrator/webhooks/{first['id']}"),
    ]
    delivered_with(stack, second["id"], "spritz-signing-e2e-02")
    assert stack.outputs()["webhook_id"] == second["id"]

    assert_no_plaintext(stack, [*CREDENTIALS, "spritz-signing-e2e-01", "spritz-signing-e2e-02"])
    (secret_resource,) = stack.resources("spritz:WebhookSecret")
    assert secret_resource["id"] == "webhook-secret"
    for props in ("inputs", "outputs"):
        assert SECRET_SIG in secret_resource[props]["secret"], props
        assert secret_resource[props]["secret"]["plaintext"] == '"spritz-signing-e2e-02"'

    mark = stack.last_seq()
    assert changes(stack.destroy()) == {"delete": 3}
    assert stack.webhooks("spritz") == []
    assert stack.write_calls(mark, "spritz") == [("DELETE", f"/spritz/v1/integrator/webhooks/{second['id']}")]
    assert stack.resources() == []


def test_refresh_finds_dashboard_changes_disabling_and_deletion(engine_stack: StackFactory) -> None:
    declared = ["account.created", "payment.completed"]
    stack = engine_stack(program(events=declared))
    assert changes(stack.up()) == {"create": 2}
    first = stack.only_webhook("spritz")

    # A dashboard user changes the events: refresh shows it, up puts the declaration back.
    stack.edit("spritz", first["id"], {"events": ["payment.refunded"]})
    assert changes(stack.refresh()) == {"update": 1}
    assert changes(stack.up()) == {"update": 1}
    assert stack.only_webhook("spritz")["events"] == declared

    # Spritz disables it after failed deliveries: refresh shows it, up replaces it (no re-enable).
    stack.edit("spritz", first["id"], {"disabled": True, "failureCount": 10})
    assert changes(stack.refresh()) == {"update": 1}
    (stored,) = stack.resources("spritz:IntegratorWebhook")
    assert stored["outputs"]["disabled"] is True and stored["outputs"]["failure_count"] == 10
    mark = stack.last_seq()
    assert changes(stack.up()) == {"replace": 1}
    second = stack.only_webhook("spritz")
    assert second["id"] != first["id"] and second["disabled"] is False and second["events"] == declared
    assert [m for m, _ in stack.write_calls(mark, "spritz")] == ["POST", "DELETE"]
    assert stack.outputs() == {"webhook_id": second["id"], "failure_count": 0, "disabled": False}

    # Deleted in the dashboard: refresh drops it, up creates it again.
    stack.remove("spritz", second["id"])
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    third = stack.only_webhook("spritz")
    assert third["url"] == URL and third["events"] == declared


def test_adoption_by_webhook_id_creates_nothing(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    existing = httpx.post(
        f"{stack.sandbox_url}/spritz/v1/integrator/webhooks",
        content=json.dumps({"url": URL, "events": ["payment.created"]}),
        headers={"Authorization": f"Bearer {API_KEY}", "X-INTEGRATION-KEY": INTEGRATOR_KEY,
                 "Content-Type": "application/json"},
    ).raise_for_status().json()

    stack.set_program(program(events=["payment.created"], webhook_id=existing["id"]))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 2}
    assert stack.write_calls(mark, "spritz") == []
    assert stack.only_webhook("spritz") == existing
    assert stack.outputs()["webhook_id"] == existing["id"]
    assert changes(stack.preview()) == {}

    # After adoption, a change is an update the preview shows.
    stack.set_program(program(events=["payment.completed"], webhook_id=existing["id"]))
    assert changes(stack.preview()) == {"update": 1}
    assert changes(stack.up()) == {"update": 1}
    assert stack.write_calls(mark, "spritz") == [("PATCH", f"/spritz/v1/integrator/webhooks/{existing['id']}")]
    assert stack.only_webhook("spritz") == {**existing, "events": ["payment.completed"]}

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("spritz") == []


def test_the_secret_is_set_with_post_where_only_post_is_accepted(engine_stack: StackFactory) -> None:
    stack = engine_stack(program(secret="spritz-signing-e2e-03"))
    assert stack.edit("spritz", "webhook-secret", {"verb": "POST"})["verb"] == "POST"
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 3}
    hook = stack.only_webhook("spritz")
    assert stack.write_calls(mark, "spritz") == [
        ("POST", "/spritz/v1/integrator/webhook-secret"),
        ("POST", "/spritz/v1/integrator/webhooks"),
    ]
    delivered_with(stack, hook["id"], "spritz-signing-e2e-03")
