"""Refresh lists each provider once per operation, and every operation lists afresh."""

from __future__ import annotations

from collections import Counter

import pulumi

from pulumi_webhooks import phonepe, spritz, velafi

from .conftest import StackFactory
from .harness import EngineStack, changes

PER_PROVIDER = 8


def program() -> None:
    for i in range(PER_PROVIDER):
        velafi.Webhook(f"velafi-{i}", event_type="ORDER_WEBHOOK", url=f"https://hooks.example.com/velafi/{i}")
        spritz.IntegratorWebhook(f"spritz-{i}", url=f"https://hooks.example.com/spritz/{i}",
                                 events=["payment.completed"])
        phonepe.Webhook(f"phonepe-{i}", url=f"https://hooks.example.com/phonepe/{i}",
                        events=["pg.order.completed"], username=f"merchant{i:02d}",
                        password=pulumi.Output.secret("Passw0rd2024"))


def list_requests(stack: EngineStack, since: int) -> Counter[str]:
    """GET requests per provider that read a collection (not one webhook, not a token)."""
    return Counter(
        row["provider"] for row in stack.journal(since)
        if row["route"].startswith("GET ") and "token" not in row["route"] and not row["route"].endswith("}")
    )


def test_refresh_lists_once_per_provider_and_never_keeps_a_listing(engine_stack: StackFactory) -> None:
    stack = engine_stack(program)
    assert changes(stack.up()) == {"create": 3 * PER_PROVIDER + 1}  # and the stack

    # One listing per provider for all of its webhooks. VelaFi's listing is two requests
    # (active, then disabled) and PhonePe's a page and the empty page that ends it.
    mark = stack.last_seq()
    assert changes(stack.refresh()) == {}
    first = list_requests(stack, mark)
    assert first == {"velafi": 2, "spritz": 1, "phonepe": 2}, first

    # A dashboard edit between two refreshes: the second lists again and sees it.
    edited = stack.webhooks("spritz")[0]["id"]
    stack.edit("spritz", edited, {"events": ["payment.created"]})
    mark = stack.last_seq()
    assert changes(stack.refresh()) == {"update": 1}
    assert list_requests(stack, mark) == first
    [resource] = [r for r in stack.resources("IntegratorWebhook") if r["outputs"]["webhook_id"] == edited]
    assert resource["outputs"]["events"] == ["payment.created"]
