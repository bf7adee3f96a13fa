"""Fixtures for tests that drive the real Pulumi engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_webhooks.sandbox import Sandbox, SandboxServer

from .harness import EngineStack

pytestmark = pytest.mark.e2e

StackFactory = Callable[..., EngineStack]


@pytest.fixture(autouse=True)
def _settings_from_the_stack_only(unconfigured: None) -> None:
    """The engine runs with the stack config each test sets, and no provider settings from
    the environment."""


@pytest.fixture
def second_sandbox() -> Iterator[SandboxServer]:
    """Another provider host (a second account, or where a stack moves to)."""
    server = SandboxServer(Sandbox(seed=2)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def engine_stack(tmp_path: Path, sandbox_server: SandboxServer) -> Iterator[StackFactory]:
    """``engine_stack(program, **kwargs)``: a fresh stack of ``program`` against the sandbox.

    Whatever a test leaves behind is destroyed afterwards, so the sandbox and
    the backend are left clean.
    """
    made: list[EngineStack] = []

    def make(program: Callable[[], None] | Path, **kwargs: Any) -> EngineStack:
        stack = EngineStack(tmp_path / f"stack{len(made)}", sandbox_server.url, program, **kwargs)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.close()
