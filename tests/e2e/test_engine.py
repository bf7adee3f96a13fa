"""The plumbing every end-to-end test stands on: the real engine, our package, a local backend."""

from __future__ import annotations

import pulumi

from tests.noop import Noop

from .conftest import StackFactory
from .harness import changes


def test_noop_resource_lifecycle(engine_stack: StackFactory) -> None:
    def program(value: str = "one") -> None:
        r = Noop("floor", value=value)
        pulumi.export("value", r.value)

    stack = engine_stack(lambda: program("one"))
    assert changes(stack.preview()) == {"create": 2}
    up = stack.up()
    assert changes(up) == {"create": 2}
    assert stack.outputs()["value"] == "one"
    assert changes(stack.preview()) == {}

    stack.set_program(lambda: program("two"))
    assert changes(stack.up()) == {"update": 1}
    assert stack.outputs()["value"] == "two"

    assert changes(stack.refresh()) == {}
    destroyed = stack.destroy()
    assert changes(destroyed) == {"delete": 2}
    assert stack.resources() == []
