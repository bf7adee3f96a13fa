"""Arguments whose values come from another resource's outputs, unknown at preview."""

from __future__ import annotations

from typing import Any

import pulumi

from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi
from tests.noop import Noop

from .conftest import StackFactory
from .harness import changes


def later(source: Noop, value: Any) -> pulumi.Output[Any]:
    """``value``, known only once ``source`` exists (unknown while it is still to be created)."""
    return source.id.apply(lambda _: value)


def program(aggregator_id: str, source_name: str = "source") -> None:
    source = Noop(source_name, value="v")
    kotanipay.IntegratorWebhook(
        "kotani",
        url=later(source, "https://hooks.example.com/kotani"),
        events=later(source, ["payment.confirmed"]),
        secret=pulumi.Output.secret(later(source, "kotani-signing-secret")),
    )
    velafi.Webhook(
        "velafi",
        event_type=later(source, "ORDER_WEBHOOK"),
        url=later(source, "https://hooks.example.com/velafi"),
        enabled=later(source, True),
        webhook_id=later(source, None),
    )
    safepay.RaastWebhook(
        "safepay",
        url=later(source, "https://hooks.example.com/safepay"),
        event_types=[later(source, "payment.completed"), "refund.completed"],
        description=later(source, "payments"),
        enabled=later(source, True),
        aggregator_id=later(source, aggregator_id),
        rotation=later(source, "r1"),
        webhook_id=later(source, None),
    )
    spritz.IntegratorWebhook(
        "spritz",
        url=later(source, "https://hooks.example.com/spritz"),
        events=later(source, ["payment.completed"]),
        webhook_id=later(source, None),
    )
    spritz.WebhookSecret("spritz-secret", secret=pulumi.Output.secret(later(source, "spritz-signing-secret")))
    phonepe.Webhook(
        "phonepe",
        url=later(source, "https://hooks.example.com/phonepe"),
        events=later(source, ["pg.order.completed"]),
        username=later(source, "merchant01"),
        password=pulumi.Output.secret(later(source, "Passw0rdOne")),
        description=later(source, "orders"),
        enabled=later(source, True),
        webhook_id=later(source, None),
    )


def test_every_argument_may_be_unknown_at_preview(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: None)
    aggregator_id = stack.sandbox_config["safepay:aggregatorId"]
    stack.set_program(lambda: program(aggregator_id))

    assert changes(stack.preview()) == {"create": 8}  # the stack, the source and six webhooks
    assert changes(stack.up()) == {"create": 8}
    assert changes(stack.preview()) == {}

    # A replaced source makes every argument unknown again, now for webhooks that exist.
    stack.set_program(lambda: program(aggregator_id, source_name="source2"))
    previewed = changes(stack.preview())
    assert previewed.get("create") == 1 and previewed.get("delete") == 1, previewed
    assert changes(stack.up()).get("update", 0) == 0
    assert changes(stack.preview()) == {}
    stack.destroy()
    for provider in ("velafi", "safepay", "spritz", "phonepe"):
        assert stack.webhooks(provider) == [], provider
