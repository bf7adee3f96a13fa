"""A dynamic resource that calls no API: the engine's own floor, for tests and benchmarks (not shipped:
the engine's provider process imports it from the checkout, which the harnesses put on PYTHONPATH)."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult


class NoopProvider(ResourceProvider):
    """Echoes its inputs; an update happens in place, nothing is ever called."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"noop-{props['name']}", {k: v for k, v in props.items() if k != "__provider"})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("name", "value") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=["name"] if "name" in changed else [])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {k: v for k, v in props.items() if k != "__provider"})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({k: v for k, v in news.items() if k != "__provider"})


class Noop(Resource, module="noop", name="Noop"):
    """``name`` replaces, ``value`` updates in place."""

    name: pulumi.Output[str]
    value: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        value: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(NoopProvider(), resource_name, {"name": resource_name, "value": value}, opts)
