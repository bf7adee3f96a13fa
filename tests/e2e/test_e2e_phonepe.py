"""PhonePe webhooks through the real Pulumi engine, against the loopback sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pulumi

from pulumi_webhooks import phonepe

from .conftest import StackFactory
from .harness import SECRET_SIG, EngineStack, assert_no_plaintext, changes

PASSWORD = "Decl4redPass"
DASHBOARD_PASSWORD = "Dashb0ardPass"
URL = "https://hooks.example.com/phonepe"


def program(url: str = URL, enabled: bool = True, webhook_id: str | None = None,
            username: str = "merchant01") -> None:
    hook = phonepe.Webhook(
        "orders",
        url=url,
        events=["pg.order.failed", "pg.order.completed"],
        username=username,
        password=PASSWORD,
        description="orders",
        enabled=enabled,
        webhook_id=webhook_id,
    )
    pulumi.export("webhook_id", hook.webhook_id)
    pulumi.export("created_at", hook.created_at)


def assert_no_plaintext_secret(stack: EngineStack) -> None:
    credentials = stack.credentials()
    assert credentials
    assert_no_plaintext(stack, [PASSWORD, DASHBOARD_PASSWORD, *credentials])
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
    hook = stack.only_webhook("phonepe")
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
    hook = stack.only_webhook("phonepe")
    assert hook["id"] == webhook_id and hook["url"] == f"{URL}/v2" and hook["enabled"] is False

    # A dashboard change, the password included: refresh shows it, up puts the declaration back.
    stack.edit("phonepe", webhook_id, {"password": DASHBOARD_PASSWORD, "description": "changed by hand"})
    assert changes(stack.refresh()) == {"update": 1}
    assert_no_plaintext_secret(stack)
    assert changes(stack.up()) == {"update": 1}
    hook = stack.only_webhook("phonepe")
    assert (hook["password"], hook["description"]) == (PASSWORD, "orders")

    # A dashboard delete: refresh drops it, up makes it again.
    stack.remove("phonepe", webhook_id)
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    hook = stack.only_webhook("phonepe")
    assert hook["id"] != webhook_id and hook["enabled"] is False
    assert stack.outputs()["webhook_id"] == hook["id"]
    assert_no_plaintext_secret(stack)

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("phonepe") == []
    assert stack.resources() == []


def make_out_of_band(stack: EngineStack) -> dict[str, Any]:
    """A webhook made with PhonePe's API directly, as another tool would."""
    config = stack.sandbox_config
    with httpx.Client(base_url=config["phonepe:baseUrl"], timeout=30) as api:
        token = api.post("/v1/oauth/token", data={
            "client_id": config["phonepe:clientId"], "client_secret": config["phonepe:clientSecret"],
            "client_version": config["phonepe:clientVersion"], "grant_type": "client_credentials",
        }).raise_for_status().json()["access_token"]
        return dict(api.post("/configs/v1/webhooks", headers={"Authorization": f"O-Bearer {token}"}, json={
            "url": URL, "description": "orders", "username": "merchant01", "password": PASSWORD,
            "events": ["pg.order.completed", "pg.order.failed"],
        }).raise_for_status().json())


def test_adoption_by_webhook_id_creates_nothing(engine_stack: StackFactory) -> None:
    stack = engine_stack(program)
    existing = make_out_of_band(stack)

    stack.set_program(lambda: program(webhook_id=existing["id"]))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 2}
    assert stack.writes(mark, "phonepe") == []
    assert stack.only_webhook("phonepe") == existing
    assert stack.outputs()["webhook_id"] == existing["id"]
    assert stack.outputs()["created_at"] == existing["createdAt"]
    assert changes(stack.preview()) == {}
    assert_no_plaintext_secret(stack)

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("phonepe") == []


def test_adopting_a_webhook_whose_username_has_underscores(engine_stack: StackFactory) -> None:
    # PhonePe's dashboard allows underscores in a username (its API pages say letters and digits).
    stack = engine_stack(program)
    made = make_out_of_band(stack)
    existing = stack.edit("phonepe", made["id"], {"username": "merchant_01"})
    assert existing["username"] == "merchant_01"

    stack.set_program(lambda: program(webhook_id=existing["id"], username="merchant_01"))
    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 2}
    assert changes(stack.up()) == {"create": 2}
    assert stack.writes(mark, "phonepe") == []
    assert stack.only_webhook("phonepe") == existing
    assert stack.outputs()["webhook_id"] == existing["id"]

    mark = stack.last_seq()
    assert changes(stack.preview()) == {}
    assert changes(stack.refresh()) == {}
    assert changes(stack.preview()) == {}
    assert stack.writes(mark, "phonepe") == []
    [resource] = stack.resources(":Webhook")
    assert resource["inputs"]["username"] == resource["outputs"]["username"] == "merchant_01"
    assert_no_plaintext_secret(stack)

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("phonepe") == []
