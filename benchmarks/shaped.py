"""The shaped floor: no-op dynamic resources with exactly the webhooks' properties.

Each resource takes the inputs one webhook resource records, and answers Create,
Update and Read with the outputs that webhook recorded, secrets marked the same
way: the state, the secrets and the engine's work per resource are the same as
the webhooks', while nothing is validated, nothing is called and nothing but
``pulumi.dynamic`` is imported. The benchmark writes the shapes (``shape.json``:
per resource, one entry per generation) from the webhook stack's own state.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

_SHAPES: dict[str, dict[str, Any]] = {}


def _shapes(path: str) -> dict[str, Any]:
    if path not in _SHAPES:
        with open(path, encoding="utf-8") as f:
            _SHAPES[path] = json.load(f)
    return _SHAPES[path]


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != "__provider"}


class ShapedProvider(ResourceProvider):
    """Answers with the recorded outputs of the generation whose inputs it is given."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name

    def _entry(self, props: dict[str, Any]) -> dict[str, Any]:
        entries: list[dict[str, Any]] = _shapes(self.path)["resources"][self.name]
        for entry in entries:
            if all(props.get(k) == v for k, v in entry["inputs"].items()):
                return entry
        return entries[-1]

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        # As the webhooks' Check: the arguments only, not the output names the program declares.
        known = _shapes(self.path)["resources"][self.name][0]["inputs"]
        return CheckResult({k: v for k, v in news.items() if k in known or k == "__provider"}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        entry = self._entry(props)
        return CreateResult(entry["id"], dict(entry["outputs"]))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # As the webhooks compare: the arguments their outputs record (not the URN they are told).
        changed = [k for k, v in _inputs(news).items() if v is not None and k in olds and olds[k] != v]
        replace_on = set(_shapes(self.path)["resources"][self.name][0]["replace_on"])
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in replace_on],
                          delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, _inputs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(dict(self._entry(news)["outputs"]))


class Shaped(Resource, module="shaped", name="Shaped"):
    provider_class: type[ShapedProvider] = ShapedProvider

    def __init__(self, resource_name: str, *, path: str, entry: dict[str, Any]) -> None:
        props = {k: pulumi.Output.secret(v) if k in entry["secret_inputs"] else v
                 for k, v in entry["inputs"].items()}
        # Output names the webhook declares but the create fills in.
        for name in entry["outputs"]:
            props.setdefault(name, None)
        opts = pulumi.ResourceOptions(additional_secret_outputs=entry["secret_outputs"])
        super().__init__(self.provider_class(path, resource_name), resource_name, props, opts)
