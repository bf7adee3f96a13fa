"""The lifecycle every webhook resource shares: check, diff, create, read, update, delete.

A provider module subclasses :class:`WebhookProvider`, declares its argument
model and the fields that replace, are write-only or are computed, and
implements the ``api_*`` hooks with its documented calls. Everything the
engine sees (unknowns during preview, outputs that carry every input, refresh
rewriting inputs, deletes of what is already gone, creates whose answer was
lost) is handled here once.

Provider instances hold no state: they are pickled into the stack by
reference, and credentials and HTTP clients live in the provider process.

The engine drops outputs whose value is None, so the ``olds`` and ``state``
the hooks receive may lack the keys of optional arguments left unset: read
them with ``.get()``, and take an absent key as "unset".

Adopting an existing webhook (the ``adopt_argument``) reads it with the
declared arguments as its state, then, if it differs from the declaration,
updates it with olds made of the declared arguments overlaid with what was
read: a declared argument the API does not return (a trigger such as
Safepay's ``rotation``) is therefore never seen as a change, while a
write-only one is left out (its value at the provider is unknown).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pydantic import BaseModel, ValidationError

from ._config import set_stack_config
from ._errors import InputError, NotFoundError, TransientError, WebhookError
from ._http import RetryPolicy

#: What the engine sends for a value it does not know yet (during preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROVIDER_KEY = "__provider"

ArgsT = TypeVar("ArgsT", bound=BaseModel)


def is_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    return False


def rule_of(error: Mapping[str, Any]) -> str:
    """The rule a pydantic error states, in plain words (without pydantic's prefixes)."""
    message = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


def validate_fields(
    model: type[BaseModel], values: Mapping[str, Any], *, ignore: Sequence[str] = ()
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Validate ``values`` field by field against ``model``.

    Unknown values pass through untouched (preview); defaults fill absent
    optional fields; every failure is (field, rule). Model-level rules run
    only when every field is known and valid.
    """
    result: dict[str, Any] = {}
    failures: list[tuple[str, str]] = []
    validator = model.__pydantic_validator__
    for name, info in model.model_fields.items():
        if name not in values or values[name] is None:
            if info.is_required():
                failures.append((name, "is required"))
            else:
                result[name] = info.get_default(call_default_factory=True)
            continue
        value = values[name]
        if is_unknown(value):
            result[name] = value
            continue
        try:
            instance = validator.validate_assignment(model.model_construct(), name, value)
        except ValidationError as exc:
            for error in exc.errors():
                failures.append((name, rule_of(error)))
            continue
        result[name] = getattr(instance, name)
    for name in values:
        if name not in model.model_fields and name not in ignore and name != PROVIDER_KEY:
            failures.append((name, "is not an argument of this resource"))
    if not failures and not any(is_unknown(v) for v in result.values()):
        try:
            model.model_validate(result)
        except ValidationError as exc:
            for error in exc.errors():
                loc = error.get("loc") or ("",)
                failures.append((str(loc[0]) if loc else "", rule_of(error)))
    return result, failures


class WebhookProvider(ResourceProvider, Generic[ArgsT]):
    """Generic dynamic provider; subclasses implement the ``api_*`` hooks."""

    #: The resource's arguments; validation, normalisation and defaults come from it.
    args_model: ClassVar[type[BaseModel]]
    #: Output-only properties (besides the arguments).
    outputs: ClassVar[tuple[str, ...]] = ()
    #: Arguments the API cannot change in place.
    replace_on: ClassVar[frozenset[str]] = frozenset()
    #: Arguments the API never returns: kept from the declaration, never read back.
    write_only: ClassVar[frozenset[str]] = frozenset()
    #: Properties stored as secrets (write-only inputs and server-made secrets).
    secret_properties: ClassVar[tuple[str, ...]] = ()
    #: The output that carries the resource id, if any.
    id_output: ClassVar[str | None] = "webhook_id"
    #: The argument that adopts an existing webhook, if the resource takes one.
    adopt_argument: ClassVar[str | None] = "webhook_id"
    #: Human name for messages, e.g. "PhonePe webhook".
    noun: ClassVar[str] = "webhook"

    # -- hooks -------------------------------------------------------------
    def api_create(self, args: ArgsT) -> tuple[str, dict[str, Any]]:
        """Create remotely; return the id and the live properties."""
        raise NotImplementedError

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        """Live properties (arguments and outputs) of ``id_``, or None when it is gone."""
        raise NotImplementedError

    def api_update(self, id_: str, olds: Mapping[str, Any], args: ArgsT) -> dict[str, Any]:
        """Apply ``args`` to ``id_``; return the live properties."""
        raise NotImplementedError

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        """Delete ``id_``; NotFoundError means it is already gone, which is success."""
        raise NotImplementedError

    def api_find(self, args: ArgsT) -> tuple[str, dict[str, Any]] | None:
        """A webhook that matches ``args``, used when a create's answer was lost."""
        return None

    # -- engine entry points -------------------------------------------------
    def configure(self, req: ConfigureRequest) -> None:
        raw = getattr(req.config, "_props", None) or {}
        set_stack_config(raw)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = validate_fields(self.args_model, news, ignore=self.outputs)
        return CheckResult(inputs, [self._check_failure(f, r) for f, r in failures])

    def _check_failure(self, field: str, rule: str) -> CheckFailure:
        # The engine prints a failing property's value beside the rule, in plaintext even for
        # a secret: a secret's failure names its field in the reason instead.
        if field in self.secret_properties:
            return CheckFailure("", f"{field}: {rule}")
        return CheckFailure(field, rule)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed: list[str] = []
        replaces: list[str] = []
        for name in self.args_model.model_fields:
            new = news.get(name)
            if name == self.adopt_argument:
                # Adopting names what exists already: only a different id replaces.
                if new and (is_unknown(new) or new != id_):
                    changed.append(name)
                    replaces.append(name)
                continue
            if is_unknown(new) or self._normalised(name, new) != self._normalised(name, olds.get(name)):
                changed.append(name)
                if name in self.replace_on:
                    replaces.append(name)
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[o for o in self.outputs if o == self.id_output],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = self._args(props)
        adopt = getattr(args, self.adopt_argument, None) if self.adopt_argument else None
        if adopt:
            id_, live = self._adopt(adopt, args)
        else:
            id_, live = self._create_once(args)
        return CreateResult(id_, self._outputs(args, live, id_))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = {k: v for k, v in props.items() if k != PROVIDER_KEY}
        live = self.api_read(id_, state)
        if live is None:
            return ReadResult(id_="", outs={})
        outs = dict(state)
        outs.update({k: v for k, v in live.items() if k not in self.write_only})
        if self.id_output:
            outs[self.id_output] = id_
        inputs = {
            name: outs[name]
            for name in self.args_model.model_fields
            if name in outs and name != self.adopt_argument
        }
        return ReadResult(id_=id_, outs=outs, inputs=inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = self._args(news)
        state = {k: v for k, v in olds.items() if k != PROVIDER_KEY}
        try:
            live = self.api_update(id_, state, args)
        except NotFoundError as exc:
            raise WebhookError(
                f"{exc} — the {self.noun} {id_} no longer exists; run `pulumi refresh` "
                "(or `pulumi up --refresh`) to drop it and create it again"
            ) from None
        return UpdateResult(outs=self._outputs(args, live, id_, previous=state))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        state = {k: v for k, v in props.items() if k != PROVIDER_KEY}
        try:
            self.api_delete(id_, state)
        except NotFoundError:
            pass

    # -- helpers ---------------------------------------------------------------
    def _args(self, props: Mapping[str, Any]) -> ArgsT:
        values, failures = validate_fields(self.args_model, props, ignore=self.outputs)
        if failures:
            field, rule = failures[0]
            raise InputError(field, rule)
        return self.args_model.model_validate(values)  # type: ignore[return-value]

    def _normalised(self, name: str, value: Any) -> Any:
        if value is None:
            return self.args_model.model_fields[name].get_default(call_default_factory=True)
        values, failures = validate_fields(self.args_model, {name: value})
        if any(f == name for f, _ in failures):
            return value
        return values[name]

    def _outputs(
        self,
        args: ArgsT,
        live: Mapping[str, Any],
        id_: str,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Every argument as declared, plus the computed outputs from the API."""
        outs: dict[str, Any] = dict(previous or {})
        outs.update({k: v for k, v in live.items() if k not in self.args_model.model_fields})
        outs.update(args.model_dump())
        if self.id_output:
            outs[self.id_output] = id_
        return outs

    def _adopt(self, id_: str, args: ArgsT) -> tuple[str, dict[str, Any]]:
        declared = args.model_dump()
        # No state yet: the declaration says where to look (e.g. Safepay's aggregator).
        live = self.api_read(id_, declared)
        if live is None:
            raise NotFoundError(
                self.noun, "adopt", status=404, message=f"{self.adopt_argument} {id_!r} does not exist"
            )
        differs = any(
            name in live and self._normalised(name, live[name]) != declared[name]
            for name in declared
            if name != self.adopt_argument and name not in self.write_only
        ) or any(declared.get(name) is not None for name in self.write_only)
        if differs:
            olds = {k: v for k, v in declared.items() if k not in self.write_only}
            olds.update(live)
            live = self.api_update(id_, olds, args)
        return id_, live

    def _create_once(self, args: ArgsT) -> tuple[str, dict[str, Any]]:
        """Create, retrying a lost answer only after looking for what it made."""
        policy = RetryPolicy.from_env()
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            try:
                return self.api_create(args)
            except TransientError as exc:
                if not exc.maybe_committed:
                    raise
                # The list calls behind api_find are retried by the client itself.
                found = self.api_find(args)
                if found is not None:
                    return found
                wait = policy.delay(attempt, exc.retry_after)
                if time.monotonic() + wait > deadline:
                    raise
                time.sleep(wait)
                attempt += 1


class WebhookResource(Resource):
    """Base of the public resources: secrets wrapped, outputs declared."""

    _provider_class: ClassVar[type[WebhookProvider[Any]]]

    def __init__(
        self,
        resource_name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        provider = self._provider_class()
        props = dict(props)
        for name in provider.secret_properties:
            if props.get(name) is not None:
                props[name] = pulumi.Output.secret(props[name])
        for name in provider.outputs:
            props.setdefault(name, None)
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=list(provider.secret_properties))
        super().__init__(provider, resource_name, props, pulumi.ResourceOptions.merge(opts, secret_opts))
