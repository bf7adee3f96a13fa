"""The engine records each resource where the user declared it, not in this package."""

from __future__ import annotations

from pathlib import Path

from .conftest import StackFactory
from .harness import project_on_disk

PROGRAM = """from pulumi_webhooks import phonepe, velafi

velafi.Webhook("orders", event_type="ORDER_WEBHOOK", url="https://hooks.example.com/v")
phonepe.Webhook(
    "refunds", url="https://hooks.example.com/p", events=["pg.refund.completed"],
    username="merchant01", password="Passw0rd2024",
)
"""


def test_source_positions_point_at_the_program(tmp_path: Path, engine_stack: StackFactory) -> None:
    stack = engine_stack(project_on_disk(tmp_path / "positions", PROGRAM))
    stack.up()
    positions = {r["urn"].rsplit("::", 1)[1]: r.get("sourcePosition", "") for r in stack.resources("Webhook")}
    assert positions["orders"].endswith("__main__.py#3"), positions
    assert positions["refunds"].endswith("__main__.py#4"), positions
    assert not any("pulumi_webhooks" in p for p in positions.values())
