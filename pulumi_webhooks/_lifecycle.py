"""The lifecycle every webhook resource shares: check, diff, create, read, update, delete.

A provider module subclasses :class:`WebhookProvider` (or, for an API without a
get-one call, :class:`ListedWebhookProvider`), declares its argument model and
its state model (the arguments plus the outputs, each field carrying its flags:
see :mod:`._fields`), and implements the ``api_*`` hooks with the calls of its
typed API client (a :class:`._http.ProviderApi`). Everything the engine sees (unknowns during preview, outputs
that carry every input, refresh rewriting inputs, deletes of what is already
gone, creates whose answer was lost) is handled here once.

Provider instances hold no state: they are pickled into the stack by
reference, and credentials and HTTP clients live in the provider process.

The engine drops outputs whose value is None, so the ``olds`` and ``state``
the hooks receive may lack the keys of optional arguments left unset: read
them with ``.get()``, and take an absent key as "unset".

Adopting an existing webhook (the ``adopt_argument``) only takes it over: it
reads it with the declared arguments as its state and fails, listing each
field that differs (live and declared values, secrets redacted), unless it
already is what the program declares. Nothing is written: a change after
adoption is a normal update, shown by the next preview. A declared argument
the API does not return (a trigger such as Safepay's ``rotation``) cannot
differ.

Where a webhook lives: its state records the base URL it was made at
(``base_url``). Read, update and delete go there, whatever the config says
now; a configured base URL that differs from the recorded one is a
replacement (made at the new one, deleted at the old), never a silent move.

"Gone" is concluded only from an answer that proves it: a read that finds no
such webhook. A "not found" from a delete or an update is confirmed by a read
first, and a "not found" from the read itself (a list or an account endpoint
that does not exist) means the base URL is wrong: an error naming the setting.

A create whose answer was lost (``maybe_committed``) looks for what it made
before sending again, and takes only a webhook it can have made: one that
matches the declaration, that the account did not hold before this process's
first create (one list per provider location and operation), and that no
other create of this process has taken. When it finds none it looks once more
after a pause (a slow create may commit after the client gave up) and only
then sends again. A create cut short by a crash of the whole operation is
finished by the next one from the create journal (:mod:`._journal`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar, cast
from urllib.parse import urlsplit

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
from pulumi.output import Unknown
from pydantic import BaseModel, ValidationError

from ._config import (
    Connection,
    ConnectionSpec,
    check_account_name,
    current_account,
    for_account,
    located_at,
    set_stack_config,
)
from ._errors import (
    AdoptionError,
    ConfigurationError,
    InputError,
    NotFoundError,
    RejectedError,
    TransientError,
    WebhookError,
)
from ._fields import Flags, flags_of, has_userinfo, public_targets_only, rule_of
from ._http import STILL_WORKING, ApiClient, ClientParts, Clients, ListedApi, ListedT, RetryPolicy, process_clients
from ._journal import Intent, Journal, journal_for

__all__ = [
    "PROVIDER_KEY",
    "UNKNOWN",
    "URN_INPUT",
    "ListedWebhookProvider",
    "WebhookProvider",
    "WebhookResource",
    "is_unknown",
    "reset_claims",
    "rule_of",  # defined in _fields, which the sandbox imports without the Pulumi SDK
    "validate_fields",
]

#: What the engine sends for a value it does not know yet (during preview). The SDK hands
#: it to Check and Diff either as this string or as a ``pulumi.output.Unknown`` object.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROVIDER_KEY = "__provider"
#: The output recording where a webhook lives: its provider's base URL when it was made.
LOCATION_OUTPUT = "base_url"
#: An input naming the resource (a URN of its kind and name in its stack), so the create journal
#: can tell the resource a crashed create was for. (Not ``__``-prefixed: older SDKs drop those.)
URN_INPUT = "declared_urn"
#: Marks the properties of a read-only lookup (``Resource.get``), whose read must find the webhook.
LOOKUP_INPUT = "lookup_only"
#: Properties that are neither arguments nor outputs of the resource's own.
_HIDDEN = (LOCATION_OUTPUT, "account", URN_INPUT, LOOKUP_INPUT)

ArgsT = TypeVar("ArgsT", bound=BaseModel)
T = TypeVar("T")


def is_unknown(value: Any) -> bool:
    """True when ``value`` is, or contains, a value the engine does not know yet."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    return False


def _validated(model: type[BaseModel], values: Mapping[str, Any], ignore: Sequence[str] = ()) -> BaseModel | None:
    """``values`` as ``model``, in one validation, when nothing in them needs a report field by
    field: None when a value is unknown, a key is not a field, or validation fails."""
    fields = model.model_fields
    known: dict[str, Any] = {}
    for name, value in values.items():
        if name in fields:
            if value is None:
                continue  # absent, as the field-by-field rules read it
            if is_unknown(value):
                return None
            known[name] = value
        elif name not in ignore and name != PROVIDER_KEY:
            return None
    try:
        return model.model_validate(known)
    except ValidationError:
        return None


def validate_fields(
    model: type[BaseModel], values: Mapping[str, Any], *, ignore: Sequence[str] = ()
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Validate ``values`` field by field against ``model``.

    Unknown values pass through untouched (preview); defaults fill absent
    optional fields; every failure is (field, rule). Model-level rules run
    only when every field is known and valid.
    """
    valid = _validated(model, values, ignore)
    if valid is not None:
        return {name: getattr(valid, name) for name in model.model_fields}, []
    # Something to report, or unknowns to keep: field by field, each on a blank instance (a
    # model rule run by the assignment must not judge one field by another's new value).
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


#: The argument that selects the provider account (its settings under ``<ns>:accounts.<name>``).
ACCOUNT_ARGUMENT = "account"


def _account_of(props: Mapping[str, Any]) -> str | None:
    value = props.get(ACCOUNT_ARGUMENT)
    return value if isinstance(value, str) and value else None


class WebhookProvider(ResourceProvider, Generic[ArgsT]):
    """Generic dynamic provider; subclasses implement the ``api_*`` hooks.

    A subclass declares ``args_model`` and ``state_model``; the flag lists below are read
    from the state model's field markers when the class is made, and never set by hand.
    """

    #: The resource's arguments; validation, normalisation and defaults come from it.
    args_model: ClassVar[type[BaseModel]]
    #: The resource's state: ``args_model`` plus its outputs, every field with its flags.
    state_model: ClassVar[type[BaseModel]]
    # -- derived from ``state_model`` (see ``_fields.flags_of``) --
    #: Properties marked ``Output()`` (arguments that are outputs too, then output-only ones).
    outputs: ClassVar[tuple[str, ...]] = ()
    #: Arguments marked ``Replaces()``: the API cannot change them in place.
    replace_on: ClassVar[frozenset[str]] = frozenset()
    #: Arguments marked ``WriteOnly()``: kept from the declaration, never read back.
    write_only: ClassVar[frozenset[str]] = frozenset()
    #: Properties marked ``Secret()`` (secret inputs and server-made secrets).
    secret_properties: ClassVar[tuple[str, ...]] = ()
    #: The output marked ``Output(id=True)``, which carries the resource id, if any.
    id_output: ClassVar[str | None] = None
    #: The argument marked ``Adopts()``, which adopts an existing webhook, if any.
    adopt_argument: ClassVar[str | None] = None
    #: Human name for messages, e.g. "PhonePe webhook".
    noun: ClassVar[str] = "webhook"
    #: How to reach the provider; with it, the state records where each webhook lives.
    connection_spec: ClassVar[ConnectionSpec | None] = None
    #: The most webhooks the provider keeps per account, if it has a documented cap.
    limit_per_account: ClassVar[int | None] = None

    #: Set only when a test hands the provider its own clients; otherwise the process's.
    _clients: Clients | None = None

    def __init__(self, clients: Clients | None = None) -> None:
        if clients is not None:  # never in a program: the instance is pickled into the stack
            self._clients = clients

    @property
    def clients(self) -> Clients:
        return self._clients or process_clients()

    def client(self) -> ApiClient:
        """The API client of the connection in effect (account, stack config, environment)."""
        if self.connection_spec is None:
            raise ConfigurationError(f"{self.noun}: no connection is declared")
        return self.clients.client(self.connection_spec.resolve(), self.client_parts)

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        """How the provider's API reports errors, and the credentials its calls carry."""
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_hand = [name for name in Flags._fields if name in cls.__dict__]
        if by_hand:
            # One source of truth: a list set here could disagree with the fields' markers.
            raise TypeError(
                f"{cls.__qualname__} sets {', '.join(by_hand)} by hand; mark the fields of its state_model "
                "instead (Annotated[..., Secret()], Replaces(), WriteOnly(), Adopts(), Output())"
            )
        state = getattr(cls, "state_model", None)
        if state is None:
            return
        if not issubclass(state, cls.args_model):
            raise TypeError(f"{cls.__qualname__}.state_model {state.__qualname__} must extend its args_model")
        for name, value in zip(Flags._fields, flags_of(state, cls.args_model.model_fields), strict=True):
            setattr(cls, name, value)

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

    @staticmethod
    def finish_or_discard(finish: Callable[[], T], discard: Callable[[], object]) -> T:
        """``finish()`` a webhook this create just made (a second call, where the create call
        cannot say everything, e.g. "disabled"). When that fails, ``discard()`` the webhook
        rather than leave it working outside the stack, then raise the failure."""
        try:
            return finish()
        except WebhookError:
            with contextlib.suppress(WebhookError):
                discard()
            raise

    def api_list(self, args: ArgsT) -> list[str] | None:
        """The ids held now where a create of ``args`` lands, or None when the API cannot list them."""
        return None

    def landing(self, props: Mapping[str, Any]) -> str:
        """Where inside the provider location a webhook of ``props`` (arguments or state) lives,
        when one location holds several lists (Safepay's aggregators); "" when it holds one."""
        return ""

    def api_matches(self, args: ArgsT) -> list[tuple[str, dict[str, Any]]]:
        """Webhooks that a create of ``args`` can have made (id, live properties), oldest first;
        used when a create's answer was lost."""
        return []

    def retry_policy(self) -> RetryPolicy:
        """The attempts, pauses, deadline and clock of a create whose answer was lost."""
        return self.clients.policy()

    # -- engine entry points -------------------------------------------------
    def configure(self, req: ConfigureRequest) -> None:
        raw = getattr(req.config, "_props", None) or {}
        set_stack_config(raw)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        account = news.get(ACCOUNT_ARGUMENT)
        failures: list[tuple[str, str]] = []
        if account is not None and not is_unknown(account):
            try:
                if not isinstance(account, str):
                    raise ValueError(f"must be an account name (a string), got {account!r}")
                check_account_name(account)
            except ValueError as exc:
                failures.append((ACCOUNT_ARGUMENT, str(exc)))
                account = None
        known_account = None if is_unknown(account) else account
        with for_account(known_account), public_targets_only(self._provider_host()):
            inputs, field_failures = validate_fields(self.args_model, news, ignore=(*self.outputs, *_HIDDEN))
            failures.extend(field_failures)
            # What `up` will need, checked now: settings only, no call, no value shown.
            problems = [] if self.connection_spec is None or is_unknown(account) else self.connection_spec.missing()
        if account is not None:
            inputs[ACCOUNT_ARGUMENT] = account  # the default account leaves no trace in the state
        if isinstance(news.get(URN_INPUT), str):
            inputs[URN_INPUT] = news[URN_INPUT]
        result = [self._check_failure(f, r, news.get(f)) for f, r in failures]
        result.extend(CheckFailure("", problem) for problem in problems)
        if not _olds and not result:
            self._will_create(inputs, known_account)
        return CheckResult(inputs, result)

    def _check_failure(self, field: str, rule: str, value: Any = None) -> CheckFailure:
        # The engine prints a failing property's value beside the rule, in plaintext even for
        # a secret or a URL's password: those failures name their field in the reason instead.
        if field in self.secret_properties or (isinstance(value, str) and has_userinfo(value)):
            return CheckFailure("", f"{field}: {rule}")
        return CheckFailure(field, rule)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        self._settle(id_, olds)
        changed: list[str] = []
        replaces: list[str] = []
        compared = [name for name in self.args_model.model_fields if name != self.adopt_argument]
        old_values = self._normalised(olds, compared)
        new_values = self._normalised(news, compared)
        for name in self.args_model.model_fields:
            new = news.get(name)
            if name == self.adopt_argument:
                # Adopting names what exists already: only a different id replaces.
                if new and (is_unknown(new) or new != id_):
                    changed.append(name)
                    replaces.append(name)
                continue
            if is_unknown(new) or new_values[name] != old_values[name]:
                changed.append(name)
                if name in self.replace_on:
                    replaces.append(name)
        new_account = news.get(ACCOUNT_ARGUMENT)
        if is_unknown(new_account) or (new_account or None) != _account_of(olds):
            # Another account's webhook is another webhook: make it there, delete this one here.
            changed.append(ACCOUNT_ARGUMENT)
            replaces.append(ACCOUNT_ARGUMENT)
            new_account = None
        recorded = olds.get(LOCATION_OUTPUT)
        with for_account(_account_of(olds) if new_account is None else new_account):
            configured = self._configured_location()
        if isinstance(recorded, str) and recorded and recorded.rstrip("/") != configured:
            # Made at another host: make it at the configured one, delete it where it is.
            changed.append(LOCATION_OUTPUT)
            replaces.append(LOCATION_OUTPUT)
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[o for o in self.outputs if o == self.id_output],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        account = _account_of(props)
        with for_account(account):
            return self._create(props, account)

    def _create(self, props: dict[str, Any], account: str | None) -> CreateResult:
        args = self._args(props)
        location = self._configured_location()
        adopt = getattr(args, self.adopt_argument, None) if self.adopt_argument else None
        if adopt:
            id_, live = self._adopt(adopt, args)
        else:
            key = props.get(URN_INPUT)
            try:
                id_, live = self._create_journaled(args, location, key if isinstance(key, str) and key else None)
            except NotFoundError as exc:
                raise self._misplaced(exc) from None
        outs = self._outputs(args, live, id_)
        if account is not None:
            outs[ACCOUNT_ARGUMENT] = account
        if location is not None:
            outs[LOCATION_OUTPUT] = location
        return CreateResult(id_, outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with for_account(_account_of(props)):
            return self._read(id_, props)

    def _read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = {k: v for k, v in props.items() if k not in (PROVIDER_KEY, LOOKUP_INPUT)}
        location = self._location(state)
        with located_at(location):
            try:
                live = self.api_read(id_, state)
            except NotFoundError as exc:
                raise self._misplaced(exc) from None
        self._settle(id_, state)
        if live is None:
            if props.get(LOOKUP_INPUT):
                raise NotFoundError(self.noun, "look up", status=None, message=f"{self.noun} {id_!r} does not exist")
            return ReadResult(id_="", outs={})
        outs = dict(state)
        outs.update({k: v for k, v in live.items() if k not in self.write_only})
        if self.id_output:
            outs[self.id_output] = id_
        if location is not None:
            outs[LOCATION_OUTPUT] = location
        inputs = {
            name: outs[name]
            for name in self.args_model.model_fields
            if name in outs and name != self.adopt_argument
        }
        if _account_of(state) is not None:
            inputs[ACCOUNT_ARGUMENT] = state[ACCOUNT_ARGUMENT]
        return ReadResult(id_=id_, outs=outs, inputs=inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with for_account(_account_of(olds)):
            return self._update(id_, olds, news)

    def _update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = self._args(news)
        state = {k: v for k, v in olds.items() if k != PROVIDER_KEY}
        location = self._location(state)
        self._settle(id_, state)
        with located_at(location):
            try:
                live = self.api_update(id_, state, args)
            except (NotFoundError, RejectedError) as exc:
                self._confirm_gone(id_, state, exc)
                raise WebhookError(
                    f"{exc} — the {self.noun} {id_} no longer exists; run `pulumi refresh` "
                    "(or `pulumi up --refresh`) to drop it and create it again"
                ) from None
        outs = self._outputs(args, live, id_, previous=state)
        if _account_of(olds) is not None:
            outs[ACCOUNT_ARGUMENT] = _account_of(olds)
        if location is not None:
            outs[LOCATION_OUTPUT] = location
        return UpdateResult(outs=outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        state = {k: v for k, v in props.items() if k != PROVIDER_KEY}
        with for_account(_account_of(state)), located_at(self._location(state)):
            try:
                self.api_delete(id_, state)
            except (NotFoundError, RejectedError) as exc:
                self._confirm_gone(id_, state, exc)  # already gone is success
            self._settle(id_, state)

    # -- helpers ---------------------------------------------------------------
    def _place(self, location: str | None, landing: str = "") -> tuple[str, str | None]:
        """What lost-create claims are kept per: this resource type, at one host, in one account
        (and, where the location holds several lists, in one of them)."""
        account = current_account()
        where = f"{location}|{account}" if account else location
        return type(self).__qualname__, f"{where}#{landing}" if landing else where

    def _journal(self, location: str | None) -> Journal:
        account = current_account()
        return journal_for(f"{type(self).__module__}.{type(self).__qualname__}|{location}|{account or ''}")

    def _settle(self, id_: str, state: Mapping[str, Any]) -> None:
        """``id_`` is in the stack: no interrupted create may take it."""
        if id_:
            self._journal(self._location(state)).settled(id_)

    def _configured_location(self) -> str | None:
        return self.connection_spec.resolve().base_url if self.connection_spec is not None else None

    def _provider_host(self) -> str | None:
        try:
            location = self._configured_location()
        except ConfigurationError:
            return None
        return urlsplit(location).hostname if location else None

    def _location(self, state: Mapping[str, Any]) -> str | None:
        """Where the webhook of ``state`` lives: as recorded, else (older states) as configured."""
        recorded = state.get(LOCATION_OUTPUT)
        if isinstance(recorded, str) and recorded:
            return recorded.rstrip("/")
        return self._configured_location()

    def _misplaced(self, exc: NotFoundError) -> WebhookError:
        """A "not found" from a call that must exist: the base URL points at the wrong place."""
        if self.connection_spec is None:
            return exc
        where = self.connection_spec.resolve().where()
        return ConfigurationError(
            f"{exc} — that answer means the API is not at this base URL: {where}"
        )

    def _confirm_gone(self, id_: str, state: Mapping[str, Any], exc: NotFoundError | RejectedError) -> None:
        """Return when a read proves ``id_`` is gone; raise ``exc`` otherwise (never drop a live
        webhook). A refusal is looked into too: some APIs refuse a call on a missing webhook
        with an undocumented 400 rather than a 404, and the read tells which it was."""
        try:
            live = self.api_read(id_, state)
        except NotFoundError:
            if isinstance(exc, RejectedError):
                raise exc from None
            raise self._misplaced(exc) from None
        if live is not None:
            raise exc

    def _args(self, props: Mapping[str, Any]) -> ArgsT:
        ignore = (*self.outputs, *_HIDDEN)
        valid = _validated(self.args_model, props, ignore)
        if valid is not None:
            return cast(ArgsT, valid)  # one validation: what Check passed passes here
        values, failures = validate_fields(self.args_model, props, ignore=ignore)
        if failures:
            field, rule = failures[0]
            raise InputError(field, rule)
        return self.args_model.model_validate(values)  # type: ignore[return-value]

    def _normalised(self, values: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
        """Each of ``names`` as the arguments model holds it: the default for an absent or None
        value, and the value itself where it is unknown or invalid (so that it compares unequal)."""
        model = self.args_model
        known = {n: values[n] for n in names if values.get(n) is not None}
        valid = _validated(model, known)
        if valid is not None:
            return {name: getattr(valid, name) for name in names}
        # Some value is unknown or invalid: each on its own, on a blank instance (as in check).
        validator = model.__pydantic_validator__
        result: dict[str, Any] = {}
        for name in names:
            value = values.get(name)
            if value is None:
                result[name] = model.model_fields[name].get_default(call_default_factory=True)
                continue
            if is_unknown(value):
                result[name] = value
                continue
            try:
                instance = validator.validate_assignment(model.model_construct(), name, value)
            except ValidationError:
                result[name] = value
                continue
            result[name] = getattr(instance, name)
        return result

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
        place = self._place(self._configured_location(), self.landing(args.model_dump()))
        if not _CLAIMS.take(place, id_, new_only=False):
            raise InputError(
                self.adopt_argument or "webhook_id",
                f"{self.noun} {id_!r} is already managed by another resource in this update; "
                "a webhook can be adopted by one resource only",
            )
        # No state yet: the declaration says where to look (e.g. Safepay's aggregator).
        live = self.api_read(id_, args.model_dump())
        if live is None:
            raise NotFoundError(
                self.noun, "adopt", status=None, message=f"{self.adopt_argument} {id_!r} does not exist"
            )
        self.refuse_differences(f"{self.noun} {id_!r}", args, live)
        # The one write: a write-only argument cannot be compared, so it is set as declared.
        return id_, self._converge(id_, args, live)

    def differences(self, args: ArgsT, live: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
        """(field, live, declared) for each argument whose live value is not the declared one;
        arguments the API never returns cannot differ."""
        declared = args.model_dump()
        compared = [
            name for name in declared if name != self.adopt_argument and name not in self.write_only and name in live
        ]
        current_values = self._normalised(live, compared)
        found: list[tuple[str, Any, Any]] = []
        for name in compared:
            value = declared[name]
            current = current_values[name]
            if current != value:
                found.append((name, current, value))
        return found

    def refuse_differences(self, what: str, args: ArgsT, live: Mapping[str, Any]) -> None:
        """Fail, listing every difference, when ``live`` is not what ``args`` declare."""
        differences = self.differences(args, live)
        if differences:
            module = type(self).__module__.rsplit(".", 1)[-1]
            raise AdoptionError(what, differences, secret=set(self.secret_properties), provider=module)

    def _converge(self, id_: str, args: ArgsT, live: dict[str, Any]) -> dict[str, Any]:
        """Bring a webhook a create of this resource made to the declaration (its answer was lost,
        or the declaration changed since an interrupted create)."""
        if not self._differs(args, live):
            return live
        olds = {k: v for k, v in args.model_dump().items() if k not in self.write_only}
        olds.update(live)
        return self.api_update(id_, olds, args)

    def _recovered(self, id_: str, args: ArgsT, live: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A webhook found to be this create's own, as the resource's create would return it."""
        return id_, self._converge(id_, args, live)

    def _create_journaled(
        self, args: ArgsT, location: str | None, key: str | None
    ) -> tuple[str, dict[str, Any]]:
        """Create, finishing first what an interrupted create of the same resource began."""
        _WARMUP.creating()
        landing, place, journal = self._snapshot(args, location, key)
        if journal is None or key is None:
            return self._create_once(args, location, place)
        interrupted = journal.interrupted(key)
        if interrupted is not None:
            found = self._finish(interrupted, args, place, journal)
            if found is not None:
                journal.made(key, landing, found[0], self._journaled(found[1]))
                return found
        journal.intent(key, landing, self._journaled(args.model_dump(mode="json")))
        try:
            id_, live = self._create_once(args, location, place)
        except WebhookError as exc:
            if not (isinstance(exc, TransientError) and exc.maybe_committed):
                journal.dropped(key)  # answered: nothing was made
            raise
        journal.made(key, landing, id_, self._journaled(live))
        return id_, live

    def _snapshot(
        self, args: ArgsT, location: str | None, key: str | None
    ) -> tuple[str, tuple[str, str | None], Journal | None]:
        """List, once per location, what it holds before this process's first create there."""
        landing = self.landing(args.model_dump())
        place = self._place(location, landing)
        journal = self._journal(location) if key is not None else None

        def list_before() -> list[str] | None:
            listed = self.api_list(args)
            if journal is not None and listed is not None:
                journal.before(landing, listed)
            return listed

        _CLAIMS.snapshot(place, list_before)
        return landing, place, journal

    def _will_create(self, inputs: Mapping[str, Any], account: str | None) -> None:
        """Check saw a new resource: have its location listed (and its token fetched) as soon
        as this process is known to be creating, so creates do not wait for that in turn."""
        if self.connection_spec is None or (self.adopt_argument and inputs.get(self.adopt_argument)):
            return
        if any(is_unknown(v) for v in inputs.values()):
            return
        with for_account(account):
            try:
                location = self._configured_location()
                place = self._place(location, self.landing(inputs))
            except WebhookError:
                return  # the create itself reports it
        key = inputs.get(URN_INPUT)
        key = key if isinstance(key, str) and key else None

        def warm() -> None:
            with for_account(account):
                self._snapshot(self._args(inputs), location, key)

        _WARMUP.note(place, warm)

    def _journaled(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What the journal may hold: no secret, nothing write-only."""
        hidden = {*self.secret_properties, *self.write_only}
        return {k: v for k, v in values.items() if k not in hidden}

    def _finish(
        self, intent: Intent, args: ArgsT, place: tuple[str, str | None], journal: Journal
    ) -> tuple[str, dict[str, Any]] | None:
        """The webhook an interrupted create of this resource made, brought to ``args``; None
        when it made none (or it is gone since)."""
        if intent.made is not None:
            live = self.api_read(intent.made, {**args.model_dump(), **intent.outs})
            if live is None or not _CLAIMS.take(place, intent.made, new_only=False):
                return None
            return self._recovered(intent.made, args, {**intent.outs, **live})
        try:
            intended = cast(ArgsT, self.args_model.model_validate({**args.model_dump(), **intent.fields}))
        except ValidationError:
            intended = args
        matches = dict(self.api_matches(intended))
        for id_ in journal.unexplained(intent, matches):
            if _CLAIMS.take(place, id_, new_only=False):
                return self._recovered(id_, args, matches[id_])
        return None

    def _create_once(
        self, args: ArgsT, location: str | None, place: tuple[str, str | None]
    ) -> tuple[str, dict[str, Any]]:
        """Create; after a lost answer, take what it made, and send again only when nothing is found."""
        policy = self.retry_policy()
        clock = policy.clock
        deadline = clock.monotonic() + policy.deadline
        attempt = 0
        while True:
            _CLAIMS.sending(place, +1)
            try:
                id_, live = self.api_create(args)
            except TransientError as exc:
                _CLAIMS.sending(place, -1)
                if not exc.maybe_committed:
                    raise
                # Another create's answer may still be on its way: let it take its own webhook first.
                _CLAIMS.settle(place, policy.timeout)
                found = self._take_made(place, args)
                if found is None:
                    # A slow create can commit after the client gave up: look once more before sending again.
                    pause = policy.delay(attempt, exc.retry_after)
                    if exc.status is None and exc.code in STILL_WORKING:
                        pause = max(pause, min(policy.timeout, 10.0))
                    if attempt + 1 >= policy.attempts or clock.monotonic() + pause > deadline:
                        raise
                    clock.sleep(pause)
                    found = self._take_made(place, args)
                if found is not None:
                    return found
                attempt += 1
                continue
            except BaseException:
                _CLAIMS.sending(place, -1)
                raise
            _CLAIMS.claim(place, id_)
            _CLAIMS.sending(place, -1)
            return id_, live

    def _take_made(self, place: tuple[str, str | None], args: ArgsT) -> tuple[str, dict[str, Any]] | None:
        """A webhook this process made for ``args`` and nobody took yet, brought to the declaration."""
        # The list calls behind api_matches are retried by the client itself.
        for id_, live in self.api_matches(args):
            if _CLAIMS.take(place, id_):
                return self._recovered(id_, args, live)
        return None

    def _differs(self, args: ArgsT, live: Mapping[str, Any]) -> bool:
        return bool(self.differences(args, live)) or any(
            args.model_dump().get(name) is not None for name in self.write_only
        )


class ListedWebhookProvider(WebhookProvider[ArgsT], Generic[ArgsT, ListedT]):
    """A provider whose API has no get-one call (a :class:`ListedApi`): reads, the lost-create
    lookup and ``discover`` all come from the account's list, and every read of an operation
    shares one listing."""

    def api(self) -> ListedApi[ListedT]:
        """The provider's typed API client, on the connection in effect."""
        raise NotImplementedError

    def made_by(self, args: ArgsT, webhook: ListedT) -> bool:
        """Whether a create of ``args`` can have made ``webhook``."""
        raise NotImplementedError

    def age(self, webhook: ListedT) -> Any:
        """What orders webhooks oldest first; equal ages keep the list's order."""
        return 0

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.api().get(id_)
        return None if found is None else found.properties()

    def api_list(self, args: ArgsT) -> list[str] | None:
        return [webhook.remote_id for webhook in self.api().list()]

    def api_matches(self, args: ArgsT) -> list[tuple[str, dict[str, Any]]]:
        made = sorted((w for w in self.api().list() if self.made_by(args, w)), key=self.age)
        return [(webhook.remote_id, webhook.properties()) for webhook in made]

    def webhooks(self) -> list[tuple[str, dict[str, Any]]]:
        """Every webhook of the account as (id, resource properties), for ``discover``."""
        return [(webhook.remote_id, webhook.properties()) for webhook in self.api().list()]


class _Claims:
    """Per provider location (in this process): the ids held before its first create, the ids
    its creates have taken, and how many creates are being sent, so that a create whose
    answer was lost takes only a webhook it can have made."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._before: dict[tuple[str, str | None], frozenset[str] | None] = {}
        self._taken: set[tuple[tuple[str, str | None], str]] = set()
        self._sending: dict[tuple[str, str | None], int] = {}
        self._listing: set[tuple[str, str | None]] = set()

    def snapshot(self, place: tuple[str, str | None], list_ids: Callable[[], list[str] | None]) -> None:
        """List what ``place`` holds, once, before the first create there (others wait for it)."""
        with self._changed:
            while place in self._listing:
                self._changed.wait()
            if place in self._before:
                return
            self._listing.add(place)
        try:
            listed = list_ids()
            with self._changed:
                self._before[place] = None if listed is None else frozenset(listed)
        finally:
            with self._changed:
                self._listing.discard(place)
                self._changed.notify_all()

    def sending(self, place: tuple[str, str | None], change: int) -> None:
        with self._changed:
            self._sending[place] = self._sending.get(place, 0) + change
            self._changed.notify_all()

    def settle(self, place: tuple[str, str | None], timeout: float) -> None:
        """Wait (at most ``timeout``) until no other create at ``place`` is waiting for its answer."""
        with self._changed:
            self._changed.wait_for(lambda: self._sending.get(place, 0) <= 0, timeout=timeout)

    def claim(self, place: tuple[str, str | None], id_: str) -> None:
        with self._changed:
            self._taken.add((place, id_))

    def take(self, place: tuple[str, str | None], id_: str, *, new_only: bool = True) -> bool:
        """Take ``id_``: only if nobody took it, and (for a lost create) if it is new since the snapshot."""
        with self._changed:
            before = self._before.get(place) if new_only else None
            if (before is not None and id_ in before) or (place, id_) in self._taken:
                return False
            self._taken.add((place, id_))
            return True

    def reset(self) -> None:
        with self._changed:
            self._before.clear()
            self._taken.clear()
            self._sending.clear()


_CLAIMS = _Claims()


class _Warmup:
    """The lists that creates wait for, started early.

    The first create at a location waits for its token and its list of what is there; the
    engine's other creates there wait behind it, holding their slots. Check sees every new
    resource first, so once this process is known to be creating (its first create, never a
    preview), every location Check has seen is listed at once, each in its own thread. A
    failed warm-up leaves nothing behind: that location's first create lists it again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._creating = False
        self._waiting: dict[tuple[str, str | None], Callable[[], None]] = {}
        self._started: set[tuple[str, str | None]] = set()
        self._threads: list[threading.Thread] = []

    def note(self, place: tuple[str, str | None], warm: Callable[[], None]) -> None:
        with self._lock:
            if place in self._started or place in self._waiting:
                return
            if not self._creating:
                self._waiting[place] = warm
                return
            self._started.add(place)
        self._start(warm)

    def creating(self) -> None:
        with self._lock:
            if self._creating:
                return
            self._creating = True
            waiting = list(self._waiting.items())
            self._waiting.clear()
            self._started.update(place for place, _ in waiting)
        for _, warm in waiting:
            self._start(warm)

    def _start(self, warm: Callable[[], None]) -> None:
        def run() -> None:
            with contextlib.suppress(Exception):
                warm()

        thread = threading.Thread(target=run, name="webhooks-warmup", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def reset(self) -> None:
        """Forget everything, once no warm-up of the operation before is still running."""
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()
        with self._lock:
            self._creating = False
            self._waiting.clear()
            self._started.clear()


_WARMUP = _Warmup()


def reset_claims() -> None:
    """Forget every location's snapshot and taken ids (a new operation, or a test)."""
    _CLAIMS.reset()
    _WARMUP.reset()


class _Declarations:
    """What the running program declares, for the rules that span resources: one resource per
    adopted webhook, and a provider's cap on webhooks. Checked as resources are declared, so a
    breach fails ``pulumi preview`` the same way every time (program order), before any call."""

    def __init__(self) -> None:
        self._monitor: object = None
        self._adopted_by: dict[tuple[str, str, str], str] = {}
        self._declared: dict[tuple[str, str], list[str]] = {}

    def _current(self) -> None:
        # A new engine connection (a new program run, or new test mocks) starts afresh.
        monitor = pulumi.runtime.settings.SETTINGS.monitor
        if monitor is not self._monitor:
            self._monitor = monitor
            self._adopted_by.clear()
            self._declared.clear()

    def declare(
        self, kind: str, account: str | None, provider: WebhookProvider[Any], name: str, props: Mapping[str, Any]
    ) -> None:
        self._current()
        where = f" of account {account!r}" if account else ""
        adopt = props.get(provider.adopt_argument) if provider.adopt_argument else None
        if isinstance(adopt, str) and adopt:
            holder = self._adopted_by.setdefault((kind, account or "", adopt), name)
            if holder != name:
                raise pulumi.RunError(
                    f"{kind} {name!r}: {provider.adopt_argument} {adopt!r}{where} is already adopted by {holder!r}; "
                    "a webhook can be managed by one resource only"
                )
        limit = provider.limit_per_account
        if limit is None:
            return
        names = self._declared.setdefault((kind, account or ""), [])
        if name not in names:
            names.append(name)
        if len(names) > limit:
            raise pulumi.RunError(
                f"{kind} {name!r}: this program declares {len(names)} {provider.noun}s{where} and the provider "
                f"keeps at most {limit} per account; declare at most {limit} (the first {limit} declared are "
                f"{names[0]!r} .. {names[limit - 1]!r})"
            )


_DECLARATIONS = _Declarations()


_PACKAGE_URI = Path(__file__).parent.as_uri() + "/"


def _point_at_the_declaration() -> None:
    """Make the engine record each resource's source position at the user's line.

    The SDK takes the frame that called ``pulumi.dynamic.Resource.__init__``, which is
    this package's constructor: engine messages and the state would name this file.
    Its stack-trace helper is wrapped once to drop this package's frames from the top.
    """
    from pulumi.runtime import resource as runtime_resource

    original = getattr(runtime_resource, "_get_stack_trace", None)
    if original is None or getattr(original, "__wrapped__", None) is not None:
        return  # an SDK without the helper (nothing to fix), or wrapped already

    @functools.wraps(original)
    def stack_trace() -> Any:
        trace = original()
        frames = trace.frames
        skip = 0
        while skip < len(frames) - 1 and frames[skip].pc.uri.startswith(_PACKAGE_URI):
            skip += 1
        if skip:
            del frames[:skip]
        return trace

    runtime_resource._get_stack_trace = stack_trace


class WebhookResource(Resource):
    """Base of the public resources: secrets wrapped, outputs declared."""

    _provider_class: ClassVar[type[WebhookProvider[Any]]]

    #: Where the webhook lives: its provider's base URL when it was made.
    base_url: pulumi.Output[str]
    #: The provider account it lives in (None: the namespace's top-level settings).
    account: pulumi.Output[str | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        provider = getattr(cls, "_provider_class", None)
        if provider is not None:
            cls._check_attributes(provider)

    @classmethod
    def _check_attributes(cls, provider: type[WebhookProvider[Any]]) -> None:
        """The output attributes (written out for type checkers) must be exactly the state
        model's fields, beside the hidden properties this class declares itself."""
        own = cls.__mro__[: cls.__mro__.index(WebhookResource)]
        declared = {name for klass in own for name in inspect.get_annotations(klass) if not name.startswith("_")}
        fields = set(provider.state_model.model_fields)
        if declared != fields:
            missing, extra = sorted(fields - declared), sorted(declared - fields)
            raise TypeError(
                f"{cls.__qualname__}'s output attributes are not {provider.state_model.__qualname__}'s fields: "
                f"missing {missing or 'none'}, not fields {extra or 'none'}"
            )

    def __init__(
        self,
        resource_name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        account: str | None = None,
        _lookup: bool = False,
    ) -> None:
        _point_at_the_declaration()
        provider = self._provider_class()
        kind = self._kind()
        if not _lookup:
            _DECLARATIONS.declare(kind, account, provider, resource_name, props)
        props = {**props, ACCOUNT_ARGUMENT: account}
        for name in provider.secret_properties:
            if props.get(name) is not None:
                props[name] = pulumi.Output.secret(props[name])
        for name in provider.outputs:
            props.setdefault(name, None)
        if provider.connection_spec is not None:
            props.setdefault(LOCATION_OUTPUT, None)
        if not _lookup:
            parent = opts.parent if opts is not None else None
            props[URN_INPUT] = pulumi.create_urn(resource_name, f"pulumi-webhooks:{kind}", parent=parent)
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=list(provider.secret_properties))
        super().__init__(provider, resource_name, props, pulumi.ResourceOptions.merge(opts, secret_opts))
        if not _lookup and pulumi.runtime.is_dry_run():
            notice = self._takeover_notice(provider, props)
            if notice is not None:
                # A resource the stack holds already has a known id at preview: only a create is told.
                self.id.apply(lambda id_: self._warn_new(id_, notice), run_with_unknowns=True)

    @classmethod
    def _kind(cls) -> str:
        return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"

    def _warn_new(self, id_: Any, notice: str) -> None:
        if not id_ or is_unknown(id_):
            pulumi.log.warn(notice, resource=self)

    def _takeover_notice(self, provider: WebhookProvider[Any], props: Mapping[str, Any]) -> str | None:
        """What the preview tells of a create that takes over an existing webhook."""
        adopt = props.get(provider.adopt_argument) if provider.adopt_argument else None
        if adopt is None:
            return None
        named = repr(adopt) if isinstance(adopt, str) else f"the one its {provider.adopt_argument} names"
        return (
            f"{self._kind()} adopts the existing {provider.noun} {named}: `pulumi up` takes it over as it is, "
            "and fails, listing the fields that differ, if it is not what this declaration says"
        )

    @classmethod
    def get(
        cls,
        resource_name: str,
        id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        account: str | None = None,
    ) -> Self:
        """Look up an existing webhook by id, read-only: the stack records what it reads and
        never changes or deletes it. ``account`` selects the settings to read it with."""
        provider = cls._provider_class
        props: dict[str, Any] = {name: None for name in provider.args_model.model_fields}
        props[LOOKUP_INPUT] = True
        resource = cls.__new__(cls)
        WebhookResource.__init__(
            resource, resource_name, props, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)),
            account=account, _lookup=True,
        )
        return resource
