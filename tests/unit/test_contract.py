"""The contract every resource keeps, run over every resource class the registry lists.

One table row per resource holds what cannot be read from its declarations: a valid
declaration, a change applied in place, a value for each argument that replaces, the
call that makes the webhook and whether delete removes anything. Which properties are
secret, replace, are write-only or are outputs comes from the provider class itself,
so the cases follow the declarations. A resource added to the registry fails
``test_every_registered_resource_has_a_row`` until its row is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from pulumi_webhooks import _http, _journal, spritz
from pulumi_webhooks._errors import WebhookError
from pulumi_webhooks._lifecycle import PROVIDER_KEY, UNKNOWN, URN_INPUT, WebhookProvider, WebhookResource
from pulumi_webhooks._registry import BY_NAME, PROVIDERS
from pulumi_webhooks.sandbox import Fault, Sandbox, SandboxTransport

from ..helpers import failures_by_field, pulumi_mocks

#: What a provider holds (webhooks, or its one setting), by id, as its sandbox records it.
Held = Callable[[Sandbox], dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Row:
    """What the contract needs to know of one resource beyond its declarations."""

    #: A declaration that check accepts and create makes.
    valid: dict[str, Any]
    #: New values of arguments the provider changes in place.
    in_place: dict[str, Any]
    #: The request that makes the webhook: (method, pattern of the path below the provider's prefix).
    create_call: tuple[str, str]
    #: A new value for every argument in the provider's ``replace_on``.
    replacing: dict[str, Any] = field(default_factory=dict)
    #: Whether delete removes it at the provider; False where the API has nothing to delete
    #: and destroy only stops managing what stays (a setting of the whole account).
    delete_removes: bool = True
    #: What the provider holds, when its sandbox's webhook listing does not show it.
    held: Held | None = None


def _spritz_secret(sb: Sandbox) -> dict[str, dict[str, Any]]:
    # One secret per integrator account, never listed: the sandbox's own record of it.
    secret = sb.apps["spritz"].data.get("secret")
    return {spritz.WebhookSecretProvider.resource_id: {"secret": secret}} if secret else {}


HOOKS = "https://hooks.example.com/contract"

ROWS: dict[str, Row] = {
    # The account's one setting: Kotani has no delete and refuses an empty URL, so it stays.
    "kotanipay.IntegratorWebhook": Row(
        valid={"url": HOOKS, "events": ["payment.confirmed"], "secret": "whsec_contract_kotani_0001"},
        in_place={"url": f"{HOOKS}/v2"},
        create_call=("PATCH", r"/api/v3/integrator/webhook$"),
        delete_removes=False,
    ),
    "velafi.Webhook": Row(
        valid={"event_type": "ORDER_WEBHOOK", "url": HOOKS},
        in_place={"url": f"{HOOKS}/v2", "enabled": False},
        replacing={"event_type": "FUNDING_WEBHOOK"},
        create_call=("POST", r"/v2/webhook$"),
    ),
    "safepay.RaastWebhook": Row(
        valid={"url": HOOKS, "event_types": ["payment.completed"], "description": "contract"},
        in_place={"description": "contract, second edition", "event_types": ["payment.failed", "payment.completed"]},
        replacing={"aggregator_id": "agg_00000000-0000-4000-8000-000000000000"},
        create_call=("POST", r"/webhooks$"),
    ),
    "spritz.IntegratorWebhook": Row(
        valid={"url": HOOKS, "events": ["payment.completed"]},
        in_place={"events": ["payment.refunded", "payment.completed"]},
        replacing={"url": f"{HOOKS}/v2"},
        create_call=("POST", r"/v1/integrator/webhooks$"),
    ),
    # Integrator-wide and write-only; there is no endpoint to remove it.
    "spritz.WebhookSecret": Row(
        valid={"secret": "whsec_contract_spritz_0001"},
        in_place={"secret": "whsec_contract_spritz_0002"},
        create_call=("PUT", r"/v1/integrator/webhook-secret$"),
        delete_removes=False,
        held=_spritz_secret,
    ),
    "phonepe.Webhook": Row(
        valid={"url": HOOKS, "events": ["pg.order.completed"], "username": "merchant01", "password": "Contract01",
               "description": "contract"},
        in_place={"description": "contract, second edition", "url": f"{HOOKS}/v2"},
        create_call=("POST", r"/configs/v1/webhooks$"),
    ),
}

KINDS = [f"{provider.name}.{name}" for provider in PROVIDERS for name in provider.resources]


@dataclass(frozen=True)
class Subject:
    """One resource class of the registry with its table row."""

    kind: str
    resource: type[WebhookResource]
    row: Row

    @property
    def namespace(self) -> str:
        return self.kind.split(".", 1)[0]

    @property
    def provider(self) -> WebhookProvider[Any]:
        return self.resource._provider_class()

    @property
    def arguments(self) -> tuple[str, ...]:
        return tuple(self.provider.args_model.model_fields)

    @property
    def carried(self) -> tuple[str, ...]:
        """The arguments the outputs carry as declared: all but the one that is the id output
        (adopting names an id; the output holds the id the resource has)."""
        return tuple(name for name in self.arguments if name != self.provider.id_output)

    @property
    def secret_arguments(self) -> tuple[str, ...]:
        """Secrets the program declares (the others are made by the provider)."""
        return tuple(name for name in self.provider.secret_properties if name in self.arguments)

    def declare(self, olds: Mapping[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
        """The valid declaration (with ``changes``) as the engine hands it on: after a check that passes."""
        news = {**self.row.valid, **changes, URN_INPUT: f"urn:pulumi:contract::webhooks::{self.kind}::hook"}
        result = self.provider.check(dict(olds or {}), {**news, PROVIDER_KEY: "provider"})
        assert result.failures == [], failures_by_field(result.failures)
        return dict(result.inputs)

    def create(self, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        result = self.provider.create(dict(inputs))
        assert result.id and result.outs is not None
        return result.id, dict(result.outs)

    def held(self, sb: Sandbox) -> dict[str, dict[str, Any]]:
        if self.row.held is not None:
            return self.row.held(sb)
        app = sb.apps[self.namespace]
        return {str(hook[app.id_field]): hook for hook in app.webhooks()}

    def is_create_call(self, method: str, path: str) -> bool:
        expected, pattern = self.row.create_call
        prefix = f"/{self.namespace}"
        if method != expected or not path.startswith(f"{prefix}/"):
            return False
        return re.search(pattern, path[len(prefix):]) is not None

    def create_fault(self, **kind: Any) -> Fault:
        method, pattern = self.row.create_call
        return Fault(provider=self.namespace, method=method, path=pattern, count=1, **kind)


def subject_of(kind: str) -> Subject:
    namespace, name = kind.split(".", 1)
    return Subject(kind, BY_NAME[namespace].resource_class(name), ROWS[kind])


@pytest.fixture(params=KINDS)
def subject(request: pytest.FixtureRequest) -> Subject:
    return subject_of(request.param)


def _kinds_where(has: Callable[[Subject], bool]) -> list[str]:
    return [kind for kind in KINDS if kind in ROWS and has(subject_of(kind))]


WITH_SECRETS = _kinds_where(lambda s: bool(s.provider.secret_properties))
WITH_SECRET_ARGUMENTS = _kinds_where(lambda s: bool(s.secret_arguments))


def requests_since(sb: Sandbox, mark: int) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in sb.journal[mark:]]


def writes_since(sb: Sandbox, mark: int) -> list[tuple[str, str]]:
    return [(method, path) for method, path in requests_since(sb, mark) if method not in ("GET", "HEAD")]


# -- the table -------------------------------------------------------------------------------------------


def test_every_registered_resource_has_a_row() -> None:
    assert sorted(ROWS) == sorted(KINDS)


def test_the_row_follows_the_declarations(subject: Subject) -> None:
    provider, row = subject.provider, subject.row
    fields = provider.args_model.model_fields
    required = {name for name, info in fields.items() if info.is_required()}
    assert required <= set(row.valid) <= set(fields)
    assert row.in_place and set(row.in_place) <= set(fields)
    assert not set(row.in_place) & provider.replace_on, "an in-place change must not touch a replacing argument"
    # One value for each replacing argument, so that the replace case covers every one.
    assert set(row.replacing) == provider.replace_on
    for name, value in {**row.in_place, **row.replacing}.items():
        assert value != subject.declare()[name], f"{name}: the change must differ from the valid declaration"


# -- check -------------------------------------------------------------------------------------------------


def test_check_accepts_the_valid_declaration(subject: Subject) -> None:
    result = subject.provider.check({}, {**subject.row.valid, PROVIDER_KEY: "provider"})
    assert result.failures == []
    assert set(subject.row.valid) <= set(result.inputs)


def test_check_names_an_argument_the_resource_does_not_take(subject: Subject) -> None:
    result = subject.provider.check({}, {**subject.row.valid, "webhook_colour": "blue", PROVIDER_KEY: "provider"})
    assert failures_by_field(result.failures) == {"webhook_colour": "is not an argument of this resource"}


def test_check_names_a_required_argument_of_the_wrong_type(subject: Subject) -> None:
    fields = subject.provider.args_model.model_fields
    required = [name for name, info in fields.items() if info.is_required()]
    assert required
    for name in required:
        result = subject.provider.check({}, {**subject.row.valid, name: 12345, PROVIDER_KEY: "provider"})
        assert set(failures_by_field(result.failures)) == {name}, (name, result.failures)


def test_check_passes_unknowns_through_without_a_request(subject: Subject, sandbox: Sandbox) -> None:
    # During preview every argument may be unknown, whatever its type.
    news = dict.fromkeys(subject.arguments, UNKNOWN)
    mark = len(sandbox.journal)
    result = subject.provider.check({}, {**news, PROVIDER_KEY: "provider"})
    assert result.failures == []
    assert {name: result.inputs.get(name) for name in news} == news
    assert requests_since(sandbox, mark) == []


def test_diff_of_unknowns_is_a_change_that_may_replace_without_a_request(subject: Subject, sandbox: Sandbox) -> None:
    id_, outs = subject.create(subject.declare())
    provider = subject.provider
    mark = len(sandbox.journal)
    result = provider.diff(id_, outs, dict.fromkeys(subject.arguments, UNKNOWN))
    assert result.changes is True
    # An unknown may turn out to be anything: each argument that can replace is reported as replacing.
    may_replace = set(provider.replace_on) | ({provider.adopt_argument} if provider.adopt_argument else set())
    assert set(result.replaces or []) == may_replace
    assert requests_since(sandbox, mark) == []


# -- create, read, diff ------------------------------------------------------------------------------------


def test_create_then_read_returns_the_same_properties_and_a_second_up_changes_nothing(
    subject: Subject, sandbox: Sandbox
) -> None:
    provider = subject.provider
    inputs = subject.declare()
    id_, outs = subject.create(inputs)
    # The engine hands diff and update the old outputs, never the old inputs: they carry every input.
    assert {name: outs.get(name) for name in subject.carried} == {name: inputs[name] for name in subject.carried}
    assert set(provider.outputs) <= set(outs)
    if provider.id_output:
        assert outs[provider.id_output] == id_
    assert id_ in subject.held(sandbox)

    _http.process_clients().close()  # a refresh runs in a provider process of its own
    read = provider.read(id_, outs)
    assert read.id == id_
    assert read.outs == outs
    for name in provider.secret_properties:
        assert read.outs[name] == outs[name]
    assert read.inputs is not None
    assert {name: read.inputs.get(name) for name in subject.row.valid} == {n: inputs[n] for n in subject.row.valid}

    again = provider.diff(id_, read.outs, subject.declare(olds=inputs))
    assert again.changes is False and not again.replaces


def test_an_in_place_change_is_a_change_without_a_replace(subject: Subject, sandbox: Sandbox) -> None:
    inputs = subject.declare()
    id_, outs = subject.create(inputs)
    for name, value in subject.row.in_place.items():
        result = subject.provider.diff(id_, outs, subject.declare(olds=inputs, **{name: value}))
        assert result.changes is True, name
        assert not result.replaces, (name, result.replaces)


def test_a_replacing_change_names_its_argument(subject: Subject, sandbox: Sandbox) -> None:
    provider = subject.provider
    inputs = subject.declare()
    id_, outs = subject.create(inputs)
    # The table's replacing arguments, and what replaces every resource: another account, and
    # adopting another webhook.
    changes = [(name, subject.declare(olds=inputs, **{name: value})) for name, value in subject.row.replacing.items()]
    changes.append(("account", {**inputs, "account": "contract-second"}))
    if provider.adopt_argument:
        changes.append((provider.adopt_argument, {**inputs, provider.adopt_argument: "another-webhook-0001"}))
    for name, news in changes:
        result = provider.diff(id_, outs, news)
        assert result.changes is True, name
        assert name in (result.replaces or []), (name, result.replaces)


# -- update ------------------------------------------------------------------------------------------------


def test_update_applies_the_change_and_a_read_shows_it(subject: Subject, sandbox: Sandbox) -> None:
    provider = subject.provider
    inputs = subject.declare()
    id_, outs = subject.create(inputs)
    news = subject.declare(olds=inputs, **subject.row.in_place)
    mark = len(sandbox.journal)
    updated = provider.update(id_, outs, news)
    assert writes_since(sandbox, mark), "update sent nothing"
    assert updated.outs is not None
    assert {name: updated.outs.get(name) for name in subject.carried} == {n: news[n] for n in subject.carried}

    _http.process_clients().close()  # the next operation reads what the provider holds, not a cached listing
    # Read with the state from before the update: the new values can only come from the provider.
    read = provider.read(id_, outs)
    assert read.id == id_ and read.outs is not None
    held = subject.held(sandbox)[id_]
    for name in subject.row.in_place:
        if name in provider.write_only:
            # Never read back: only the provider's own record can show it was applied.
            assert news[name] in held.values(), name
        else:
            assert read.outs[name] == news[name], name
    refreshed = provider.read(id_, dict(updated.outs))
    assert refreshed.outs == updated.outs
    assert provider.diff(id_, dict(updated.outs), news).changes is False


# -- delete ------------------------------------------------------------------------------------------------


def test_delete_then_read_and_a_second_delete(subject: Subject, sandbox: Sandbox) -> None:
    provider = subject.provider
    id_, outs = subject.create(subject.declare())
    before = subject.held(sandbox)
    mark = len(sandbox.journal)
    provider.delete(id_, outs)
    read = provider.read(id_, outs)
    if subject.row.delete_removes:
        assert id_ not in subject.held(sandbox)
        assert read.id == "", "a read after delete must report it gone"
    else:
        # Nothing to delete at the provider: destroy leaves the setting as it is.
        assert writes_since(sandbox, mark) == []
        assert subject.held(sandbox) == before
        assert read.id == id_
    after_first = subject.held(sandbox)
    provider.delete(id_, outs)  # already gone (or already let go of): success
    assert subject.held(sandbox) == after_first


# -- transient failures ------------------------------------------------------------------------------------

FAULTS: dict[str, dict[str, Any]] = {
    "503-before-it-acts": {"status": 503},
    "503-after-it-acted": {"status": 503, "after_commit": True},
    "connection-lost-after-it-acted": {"drop": True, "after_commit": True},
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_transient_failure_of_the_create_call_ends_in_exactly_one(
    subject: Subject, sandbox: Sandbox, fault: str
) -> None:
    assert subject.held(sandbox) == {}
    injected = subject.create_fault(**FAULTS[fault])
    sandbox.faults.append(injected)
    inputs = subject.declare()
    id_, outs = subject.create(inputs)
    assert injected.count == 0, "the fault never fired"
    calls = [e for e in sandbox.journal if subject.is_create_call(e["method"], e["path"])]
    assert calls[0]["dropped"] or calls[0]["status"] == 503
    held = subject.held(sandbox)
    assert list(held) == [id_], held
    assert {name: outs.get(name) for name in subject.carried} == {name: inputs[name] for name in subject.carried}


# -- secrets -----------------------------------------------------------------------------------------------


def test_the_engine_is_told_to_keep_every_secret_property_secret(
    subject: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A secret only the provider makes (an output) lands in the state in plaintext unless the
    # registration lists it; a declared secret must reach the engine in the secret envelope.
    provider = subject.provider
    registrations: list[Any] = []
    register: Callable[[MockMonitor, Any], Any] = MockMonitor.RegisterResource

    def recording(monitor: MockMonitor, request: Any) -> Any:
        registrations.append(request)
        return register(monitor, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", recording)
    made: list[WebhookResource] = []
    with pulumi_mocks(lambda args: ("contract-id", {})) as resources:

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def build() -> pulumi.Output[Any]:
            hook = subject.resource("contract", **subject.row.valid)
            made.append(hook)
            return hook.id

        build()
    [registration] = [r for r in registrations if r.type == resources[0].typ]
    assert sorted(registration.additionalSecretOutputs) == sorted(provider.secret_properties)
    [args] = resources
    envelope = {rpc._special_sig_key: rpc._special_secret_sig}
    for name, value in subject.row.valid.items():
        expected = {**envelope, "value": value} if name in provider.secret_properties else value
        assert args.inputs[name] == expected, name
    # Output-only properties are attributes the program can use.
    [hook] = made
    for name in provider.outputs:
        assert isinstance(getattr(hook, name, None), pulumi.Output), name


@pytest.mark.parametrize("kind", WITH_SECRET_ARGUMENTS)
def test_check_never_shows_a_secret_argument_it_rejects(kind: str) -> None:
    subject = subject_of(kind)
    for name in subject.secret_arguments:
        marker = f"contract-{name}-never-shown"
        result = subject.provider.check({}, {**subject.row.valid, name: [marker], PROVIDER_KEY: "provider"})
        assert set(failures_by_field(result.failures)) == {name}
        for failure in result.failures:
            # The engine prints a failing property's value beside it: a secret's failure names no property.
            assert failure.property != name
            assert marker not in failure.reason


class _Quoting(httpx.BaseTransport):
    """The sandbox, except that the create call is refused with a 400 quoting the body it was
    sent, as APIs do that repeat the value they reject."""

    def __init__(self, sb: Sandbox, subject: Subject) -> None:
        self._sandbox = sb
        self._subject = subject
        self._inner = SandboxTransport(sb)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._subject.is_create_call(request.method, request.url.path):
            return self._inner.handle_request(request)
        app = self._sandbox.apps[self._subject.namespace]
        answer = app.error(400, f"rejected {request.read().decode()}")
        headers = {"Content-Type": "application/json", **answer.headers}
        return httpx.Response(answer.status, headers=headers, content=answer.encoded(), request=request)


@pytest.mark.parametrize("kind", WITH_SECRET_ARGUMENTS)
def test_an_error_that_quotes_a_secret_argument_redacts_it(kind: str, sandbox: Sandbox) -> None:
    subject = subject_of(kind)
    inputs = subject.declare()
    with _http.use_clients(_http.Clients(_Quoting(sandbox, subject))), pytest.raises(WebhookError) as caught:
        subject.create(inputs)
    message = str(caught.value)
    assert "rejected" in message and _http.REDACTED in message, message  # the quote got through, redacted
    for name in subject.secret_arguments:
        assert inputs[name] not in message, name


def journaled() -> bytes:
    """Everything the create journals hold on disk."""
    return b"".join(path.read_bytes() for path in sorted(_journal.journal_dir().rglob("*")) if path.is_file())


@pytest.mark.parametrize("kind", WITH_SECRETS)
def test_the_create_journal_never_holds_a_secret(kind: str, sandbox: Sandbox) -> None:
    subject = subject_of(kind)
    # A lost answer writes the most: the intent, then what the search for it found.
    sandbox.faults.append(subject.create_fault(drop=True, after_commit=True))
    id_, outs = subject.create(subject.declare())
    written = journaled()
    assert id_.encode() in written, "nothing was journaled"
    for name in subject.provider.secret_properties:
        assert str(outs[name]).encode() not in written, name
