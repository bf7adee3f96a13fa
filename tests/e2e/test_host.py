"""The dynamic provider host serves as many calls at once as the engine sends, not 4."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from pulumi_webhooks import velafi
from pulumi_webhooks._host import write_script

from .conftest import StackFactory
from .harness import EngineStack, pulumi_dir

CREATES = 12


def fleet() -> None:
    for i in range(CREATES):
        velafi.Webhook(f"hook-{i}", event_type="ORDER_WEBHOOK", url=f"https://hooks.example.com/{i}")
    pulumi.export("made", CREATES)


def most_at_once(stack: EngineStack, since: int) -> int:
    """The most create requests the sandbox was answering at the same moment."""
    spans = [(r["time"] - r["ms"] / 1000, r["time"]) for r in stack.journal(since, "velafi") if r["method"] == "POST"]
    assert len(spans) == CREATES, spans
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)


def test_the_host_serves_every_create_the_engine_sends_at_once(tmp_path: Path, engine_stack: StackFactory) -> None:
    hosts = write_script(tmp_path / "host").parent  # found on PATH before the CLI's own
    stack = engine_stack(fleet, env={"PATH": os.pathsep.join([str(hosts), pulumi_dir(), os.environ["PATH"]])})
    stack.add_fault(provider="velafi", method="POST", latency=0.5)
    mark = stack.last_seq()
    stack.up(parallel=CREATES)
    # The SDK's own host would answer 4 at a time.
    assert most_at_once(stack, mark) > 4
