"""Adoption never surprises: preview says a resource adopts, `up` refuses a webhook that is not
what the program declares (naming each field, secrets hidden), a change after adoption is a
normal previewed update, and `Webhook.get` reads without managing."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.automation.errors import CommandError

from pulumi_webhooks import phonepe

from .conftest import StackFactory
from .harness import changes
from .test_e2e_phonepe import PASSWORD, URL, make_out_of_band

OTHER_PASSWORD = "Oth3rPassword"


def adopting(webhook_id: str, *, url: str = URL, password: str = PASSWORD, description: str = "orders") -> None:
    hook = phonepe.Webhook(
        "orders", url=url, events=["pg.order.completed", "pg.order.failed"], username="merchant01",
        password=password, description=description, webhook_id=webhook_id,
    )
    pulumi.export("url", hook.url)


def test_a_differing_webhook_is_refused_field_by_field_and_nothing_is_written(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: None)
    existing = make_out_of_band(stack)
    stack.set_program(lambda: adopting(
        existing["id"], url="https://hooks.example.com/new", password=OTHER_PASSWORD, description="refunds"))

    preview = stack.preview()
    assert changes(preview) == {"create": 2}  # the webhook, and the stack itself
    assert f"adopts the existing PhonePe webhook '{existing['id']}'" in preview.stdout

    mark = stack.last_seq()
    with pytest.raises(CommandError) as failed:
        stack.up()
    message = str(failed.value)
    assert f"PhonePe webhook '{existing['id']}' differs from this declaration" in message
    assert f"url: live '{URL}', declared 'https://hooks.example.com/new'" in message
    assert "description: live 'orders', declared 'refunds'" in message
    assert "password: the live and declared values differ (a secret: neither is shown)" in message
    assert PASSWORD not in message and OTHER_PASSWORD not in message
    assert "then change the declaration" in message
    assert stack.writes(mark, "phonepe") == []
    assert stack.only_webhook("phonepe") == existing
    assert stack.resources(":Webhook") == []

    # As the message says: declare what is live, adopt it, then change it in a previewed update.
    stack.set_program(lambda: adopting(existing["id"]))
    assert changes(stack.up()) == {"create": 1}  # the failed `up` made the stack itself
    assert stack.writes(mark, "phonepe") == []
    second = stack.preview()
    assert changes(second) == {} and "adopts the existing" not in second.stdout
    stack.set_program(lambda: adopting(existing["id"], url="https://hooks.example.com/new"))
    assert changes(stack.preview()) == {"update": 1}
    assert changes(stack.up()) == {"update": 1}
    assert stack.only_webhook("phonepe")["url"] == "https://hooks.example.com/new"


def test_get_reads_a_webhook_without_managing_it(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: None)
    existing = make_out_of_band(stack)  # made outside the stack

    def looking_up() -> None:
        found = phonepe.Webhook.get("orders", existing["id"])
        pulumi.export("url", found.url)
        pulumi.export("events", found.events)
        pulumi.export("created_at", found.created_at)

    stack.set_program(looking_up)
    mark = stack.last_seq()
    stack.up()
    outputs = stack.outputs()
    assert outputs["url"] == URL and outputs["created_at"] == existing["createdAt"]
    assert outputs["events"] == ["pg.order.completed", "pg.order.failed"]
    [resource] = stack.resources(":Webhook")
    assert resource.get("external") is True
    assert changes(stack.preview()) == {}
    stack.set_program(lambda: None)
    stack.up()
    stack.destroy()
    assert stack.writes(mark, "phonepe") == []
    assert stack.only_webhook("phonepe") == existing, "a looked-up webhook was changed or deleted"

    stack.set_program(lambda: pulumi.export("url", phonepe.Webhook.get("missing", "CF404").url))
    with pytest.raises(CommandError, match="PhonePe webhook 'CF404' does not exist"):
        stack.up()
