"""Rules that span the resources of one program, enforced as they are declared (so at preview)."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from pulumi_webhooks import phonepe, velafi

from ..helpers import pulumi_mocks

URL = "https://hooks.example.com/x"


def _mocked(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
    return f"{args.name}-id", {}


def _phonepe(name: str, **extra: Any) -> phonepe.Webhook:
    return phonepe.Webhook(name, url=URL, events=["pg.order.completed"], username="payments01",
                           password="Secret123", **extra)


def test_two_resources_adopting_one_webhook_fail_naming_both() -> None:
    with pulumi_mocks(_mocked):
        velafi.Webhook("first", event_type="ORDER_WEBHOOK", url=URL, webhook_id="a" * 32)
        with pytest.raises(pulumi.RunError, match=r"velafi\.Webhook 'second'.*already adopted by 'first'"):
            velafi.Webhook("second", event_type="ORDER_WEBHOOK", url=URL, webhook_id="a" * 32)
        # Another provider's id space is its own.
        _phonepe("elsewhere", webhook_id="a" * 32)


def test_each_program_run_starts_afresh() -> None:
    for _ in range(2):
        with pulumi_mocks(_mocked):
            velafi.Webhook("first", event_type="ORDER_WEBHOOK", url=URL, webhook_id="b" * 32)


def test_phonepe_beyond_its_cap_fails_at_the_same_declaration_every_time() -> None:
    for _ in range(2):
        with pulumi_mocks(_mocked):
            for i in range(phonepe.MAX_WEBHOOKS):
                _phonepe(f"hook-{i:02}")
            with pytest.raises(pulumi.RunError, match=r"'hook-30'.*declares 31 .*at most 30.*'hook-00' \.\. 'hook-29'"):
                _phonepe("hook-30")
