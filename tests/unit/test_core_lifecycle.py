"""The generic lifecycle, with an in-memory toy provider: unknowns, diffs, lost creates, adoption."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
import pytest
from pydantic import AfterValidator, model_validator

from pulumi_webhooks import _http
from pulumi_webhooks._clock import SYSTEM_CLOCK, Clock
from pulumi_webhooks._config import (
    Connection,
    ConnectionSpec,
    Setting,
    account_env,
    for_account,
    set_stack_config,
    stack_config_value,
)
from pulumi_webhooks._errors import (
    AdoptionError,
    ConfigurationError,
    InputError,
    NotFoundError,
    RejectedError,
    TransientError,
    WebhookError,
)
from pulumi_webhooks._fields import Adopts, HttpsUrl, Output, Payload, Replaces, Secret, WriteOnly, event_list
from pulumi_webhooks._http import ClientParts, Clients, Dialect, RetryPolicy
from pulumi_webhooks._lifecycle import UNKNOWN, WebhookProvider, reset_claims, validate_fields

from ..helpers import FakeClock, failures_by_field

EVENTS = ("order.paid", "order.failed", "refund.done")


class ToyArgs(Payload):
    url: HttpsUrl
    events: event_list(EVENTS) = []  # type: ignore[valid-type]
    secret: Annotated[str | None, Secret(), WriteOnly()] = None
    region: Annotated[str, Replaces()] = "eu"
    webhook_id: Annotated[str | None, Adopts(), Output(id=True)] = None


class ToyState(ToyArgs):
    created_at: Annotated[str | None, Output()] = None


def _long_enough(value: str) -> str:
    if len(value) < 8:
        raise ValueError("must be at least 8 characters")
    return value


class StrictArgs(ToyArgs):
    secret: Annotated[Annotated[str, AfterValidator(_long_enough)] | None, Secret(), WriteOnly()] = None


class StrictState(StrictArgs, ToyState):
    pass


class RegionalArgs(ToyArgs):
    """A rule over two fields, which only the whole model can judge."""

    @model_validator(mode="after")
    def _us_takes_no_refunds(self) -> RegionalArgs:
        if self.region == "us" and "refund.done" in self.events:
            raise ValueError("region 'us' delivers no refund events")
        return self


class ToyProvider(WebhookProvider[ToyArgs]):
    args_model = ToyArgs
    state_model = ToyState

    remote: dict[str, dict[str, Any]] = {}
    lose_next_create_answers = 0
    ids = itertools.count(1)

    def api_create(self, args: ToyArgs) -> tuple[str, dict[str, Any]]:
        id_ = f"wh_{next(self.ids)}"
        self.remote[id_] = {"url": args.url, "events": list(args.events), "region": args.region, "created_at": "t0"}
        if ToyProvider.lose_next_create_answers:
            ToyProvider.lose_next_create_answers -= 1
            raise TransientError("Toy", "create webhook", status=502, maybe_committed=True)
        return id_, dict(self.remote[id_])

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.remote.get(id_)
        return dict(found) if found else None

    def api_update(self, id_: str, olds: Mapping[str, Any], args: ToyArgs) -> dict[str, Any]:
        if id_ not in self.remote:
            raise NotFoundError("Toy", "update webhook", status=404)
        self.remote[id_].update(url=args.url, events=list(args.events))
        return dict(self.remote[id_])

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        if self.remote.pop(id_, None) is None:
            raise NotFoundError("Toy", "delete webhook", status=404)

    def api_matches(self, args: ToyArgs) -> list[tuple[str, dict[str, Any]]]:
        return [(id_, dict(hook)) for id_, hook in self.remote.items() if hook["url"] == args.url]


@pytest.fixture
def toy() -> ToyProvider:
    ToyProvider.remote = {}
    ToyProvider.lose_next_create_answers = 0
    ToyProvider.ids = itertools.count(1)
    return ToyProvider()


def test_check_normalises_and_fills_defaults(toy: ToyProvider) -> None:
    result = toy.check({}, {"url": " https://a.example/h ", "events": ["refund.done", "order.paid", "order.paid"],
                            "__provider": "x"})
    assert result.failures == []
    assert result.inputs["events"] == ["order.paid", "refund.done"]
    assert result.inputs["url"] == "https://a.example/h"
    assert result.inputs["region"] == "eu"


def test_check_names_the_field_and_the_rule(toy: ToyProvider) -> None:
    result = toy.check({}, {"url": "http://a.example", "events": ["order.payd"], "colour": "red"})
    failures = failures_by_field(result.failures)
    assert "https://" in failures["url"]
    assert "did you mean 'order.paid'" in failures["events"]
    assert failures["colour"] == "is not an argument of this resource"


def test_check_requires_required_fields_and_rejects_bare_strings(toy: ToyProvider) -> None:
    failures = failures_by_field(toy.check({}, {"events": "order.paid"}).failures)
    assert failures["url"] == "is required"
    assert "list of event names" in failures["events"]


def test_unknown_values_pass_check_and_show_as_changes(toy: ToyProvider) -> None:
    result = toy.check({}, {"url": UNKNOWN, "events": [UNKNOWN]})
    assert result.failures == []
    assert result.inputs["url"] == UNKNOWN
    diff = toy.diff("wh_1", {"url": "https://a.example", "events": [], "region": "eu"},
                    {"url": UNKNOWN, "events": [], "region": "eu"})
    assert diff.changes is True and diff.replaces == []


def test_unknown_objects_pass_check_and_show_as_changes(toy: ToyProvider) -> None:
    # The pinned SDK hands Check and Diff `pulumi.output.Unknown` objects, not only the string.
    from pulumi.output import Unknown

    result = toy.check({}, {"url": Unknown(), "events": [Unknown(), "order.paid"], "region": Unknown()})
    assert result.failures == []
    assert isinstance(result.inputs["url"], Unknown)
    olds = {"url": "https://a.example", "events": [], "region": "eu"}
    in_place = toy.diff("wh_1", olds, {**olds, "url": Unknown()})
    assert in_place.changes is True and in_place.replaces == []
    replace = toy.diff("wh_1", olds, {**olds, "region": Unknown()})
    assert replace.changes is True and replace.replaces == ["region"]


def test_diff_orders_and_defaults_never_make_a_change(toy: ToyProvider) -> None:
    olds = {"url": "https://a.example", "events": ["refund.done", "order.paid"], "region": "eu",
            "created_at": "t0", "webhook_id": "wh_1", "__provider": "p"}
    news = {"url": "https://a.example", "events": ["order.paid", "refund.done"], "region": "eu", "__provider": "q"}
    assert toy.diff("wh_1", olds, news).changes is False


def test_diff_reports_replacement_only_for_immutable_fields(toy: ToyProvider) -> None:
    olds = {"url": "https://a.example", "events": [], "region": "eu"}
    in_place = toy.diff("wh_1", olds, {**olds, "url": "https://b.example"})
    assert in_place.changes and in_place.replaces == []
    replace = toy.diff("wh_1", olds, {**olds, "region": "us"})
    assert replace.changes and replace.replaces == ["region"]
    secret = toy.diff("wh_1", {**olds, "secret": "s1"}, {**olds, "secret": "s2"})
    assert secret.changes and secret.replaces == []
    adopt_other = toy.diff("wh_1", olds, {**olds, "webhook_id": "wh_9"})
    assert adopt_other.replaces == ["webhook_id"]
    adopt_same = toy.diff("wh_1", olds, {**olds, "webhook_id": "wh_1"})
    assert adopt_same.changes is False


def test_outputs_carry_every_input_and_the_id(toy: ToyProvider) -> None:
    created = toy.create({"url": "https://a.example", "events": ["order.paid"], "secret": "s3cr3t!",
                          "region": "eu", "__provider": "p"})
    assert created.id == "wh_1"
    assert created.outs == {"url": "https://a.example", "events": ["order.paid"], "secret": "s3cr3t!",
                            "region": "eu", "webhook_id": "wh_1", "created_at": "t0"}


def test_a_lost_create_answer_adopts_what_was_made(toy: ToyProvider) -> None:
    ToyProvider.lose_next_create_answers = 1
    created = toy.create({"url": "https://a.example", "events": []})
    assert list(ToyProvider.remote) == ["wh_1"]
    assert created.id == "wh_1"


def test_read_rewrites_inputs_from_reality_and_keeps_write_only(toy: ToyProvider) -> None:
    created = toy.create({"url": "https://a.example", "events": [], "secret": "keepme1"})
    ToyProvider.remote["wh_1"]["url"] = "https://dashboard.example"
    read = toy.read("wh_1", {**created.outs, "__provider": "p"})
    assert read.id == "wh_1"
    assert read.outs["url"] == "https://dashboard.example"
    assert read.outs["secret"] == "keepme1"
    assert read.inputs is not None and read.inputs["url"] == "https://dashboard.example"
    assert "webhook_id" not in read.inputs


def test_gone_is_gone(toy: ToyProvider) -> None:
    created = toy.create({"url": "https://a.example"})
    del ToyProvider.remote["wh_1"]
    assert toy.read("wh_1", created.outs).id == ""
    toy.delete("wh_1", created.outs)  # already gone: success
    with pytest.raises(WebhookError, match="pulumi refresh"):
        toy.update("wh_1", created.outs, {"url": "https://b.example"})


def test_adoption_takes_over_only_what_matches_and_lists_every_difference(toy: ToyProvider) -> None:
    ToyProvider.remote["wh_7"] = {"url": "https://old.example", "events": [], "region": "eu", "created_at": "t"}
    with pytest.raises(AdoptionError) as caught:
        toy.create({"url": "https://new.example", "events": ["order.paid"], "webhook_id": "wh_7"})
    assert caught.value.differences == [
        ("url", "https://old.example", "https://new.example"), ("events", [], ["order.paid"])]
    message = str(caught.value)
    assert "url: live 'https://old.example', declared 'https://new.example'" in message
    assert "events: live [], declared ['order.paid']" in message
    assert "run `pulumi up` to adopt it, then change the declaration" in message
    assert ToyProvider.remote == {"wh_7": {"url": "https://old.example", "events": [], "region": "eu",
                                           "created_at": "t"}}, "a refused adoption wrote"
    reset_claims()  # the next `up`, declaring what is live
    adopted = toy.create({"url": "https://old.example", "webhook_id": "wh_7"})
    assert adopted.id == "wh_7" and adopted.outs["url"] == "https://old.example"
    with pytest.raises(NotFoundError, match="does not exist"):
        toy.create({"url": "https://new.example", "webhook_id": "wh_404"})


def test_a_differing_secret_is_named_without_its_values(toy: ToyProvider) -> None:
    class ReadableState(ToyState):
        region: Annotated[str, Replaces(), Secret()] = "eu"

    class ReadableSecret(ToyProvider):
        state_model = ReadableState

    ToyProvider.remote["wh_7"] = {"url": "https://a.example", "events": [], "region": "us-live-value",
                                  "created_at": "t"}
    with pytest.raises(AdoptionError) as caught:
        ReadableSecret().create({"url": "https://a.example", "region": "eu", "webhook_id": "wh_7"})
    message = str(caught.value)
    assert "region: the live and declared values differ (a secret: neither is shown)" in message
    assert "us-live-value" not in message and "'eu'" not in message


def test_one_webhook_is_adopted_by_one_resource_per_update(toy: ToyProvider) -> None:
    ToyProvider.remote["wh_7"] = {"url": "https://a.example", "events": [], "region": "eu", "created_at": "t"}
    toy.create({"url": "https://a.example", "webhook_id": "wh_7"})
    with pytest.raises(InputError, match=r"webhook_id: .*'wh_7' is already managed by another resource"):
        toy.create({"url": "https://b.example", "webhook_id": "wh_7"})
    assert ToyProvider.remote["wh_7"]["url"] == "https://a.example"


def test_adoption_reads_with_the_declaration_and_writes_nothing(toy: ToyProvider) -> None:
    reads: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []

    class Spy(ToyProvider):
        def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
            reads.append(dict(state))
            return super().api_read(id_, state)

        def api_update(self, id_: str, olds: Mapping[str, Any], args: ToyArgs) -> dict[str, Any]:
            updates.append(dict(olds))
            return super().api_update(id_, olds, args)

    ToyProvider.remote["wh_7"] = {"url": "https://a.example", "events": ["order.paid"], "region": "eu",
                                  "created_at": "t"}
    created = Spy().create({"url": "https://a.example", "events": ["order.paid"], "secret": "s3cr3t!",
                            "webhook_id": "wh_7"})
    declared = {"url": "https://a.example", "events": ["order.paid"], "secret": "s3cr3t!", "region": "eu",
                "webhook_id": "wh_7"}
    assert reads == [declared]
    # A write-only argument cannot be compared: it is the one thing adoption sets.
    assert updates == [{"url": "https://a.example", "events": ["order.paid"], "region": "eu", "created_at": "t",
                        "webhook_id": "wh_7"}]
    assert created.outs["secret"] == "s3cr3t!"
    reset_claims()
    Spy().create({"url": "https://a.example", "events": ["order.paid"], "webhook_id": "wh_7"})
    assert len(updates) == 1, "adopting what matches, with nothing write-only declared, wrote"


def test_create_refuses_invalid_input_without_calling_the_api(toy: ToyProvider) -> None:
    with pytest.raises(InputError, match="url"):
        toy.create({"url": "ftp://a.example"})
    assert ToyProvider.remote == {}


def test_validate_fields_runs_model_rules_only_when_everything_is_known() -> None:
    values, failures = validate_fields(ToyArgs, {"url": "https://a.example"})
    assert failures == [] and values["events"] == []
    declared = {"url": "https://a.example", "region": "us", "events": ["refund.done"]}
    # Every field known and valid: the model's own rule runs, and its failure is reported.
    _, failures = validate_fields(RegionalArgs, declared)
    assert failures == [("", "region 'us' delivers no refund events")]
    _, failures = validate_fields(RegionalArgs, {**declared, "events": ["order.paid"]})
    assert failures == []
    # One value unknown (preview): the rule cannot be judged yet, so it does not run.
    values, failures = validate_fields(RegionalArgs, {**declared, "url": UNKNOWN})
    assert failures == [] and values["url"] == UNKNOWN
    values, failures = validate_fields(RegionalArgs, {**declared, "events": ["refund.done", UNKNOWN]})
    assert failures == []
    # A field already failing: only its own rule is reported, not the model's on top.
    _, failures = validate_fields(RegionalArgs, {**declared, "url": "ftp://a.example"})
    assert [field for field, _ in failures] == ["url"]


def test_connection_settings_resolve_config_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ConnectionSpec(
        "acme", "Acme",
        (Setting("apiKey", "ACME_API_KEY", secret=True), Setting("baseUrl", "ACME_BASE_URL"),
         Setting("environment", "ACME_ENVIRONMENT")),
        {"production": "https://api.acme.invalid", "sandbox": "https://sandbox.acme.invalid"},
    )
    assert spec.resolve().base_url == "https://api.acme.invalid"
    monkeypatch.setenv("ACME_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("ACME_API_KEY", "from-env")
    conn = spec.resolve()
    assert conn.base_url == "https://sandbox.acme.invalid" and conn.require("apiKey") == "from-env"
    set_stack_config({"acme:apiKey": "from-config", "acme:baseUrl": "http://127.0.0.1:9/acme/"})
    conn = spec.resolve()
    assert conn.require("apiKey") == "from-config"
    assert conn.base_url == "http://127.0.0.1:9/acme"
    assert "from-config" not in repr(conn)
    assert conn.secrets == ("from-config",)
    assert stack_config_value("acme:apiKey") == "from-config"
    set_stack_config({"acme:environment": "staging"})
    with pytest.raises(ConfigurationError, match="acme:environment must be one of production, sandbox"):
        spec.resolve()
    set_stack_config({})
    monkeypatch.delenv("ACME_API_KEY")
    monkeypatch.delenv("ACME_ENVIRONMENT")
    with pytest.raises(ConfigurationError, match=r"pulumi config set --secret acme:apiKey.*ACME_API_KEY"):
        spec.resolve().require("apiKey")


def test_a_secret_failure_never_shows_its_value(toy: ToyProvider) -> None:
    class Strict(ToyProvider):
        args_model = StrictArgs
        state_model = StrictState

    result = Strict().check({}, {"url": "https://a.example", "secret": "hunter2"})
    assert [(f.property, f.reason) for f in result.failures] == [("", "secret: must be at least 8 characters")]


# -- lost creates take only what they can have made -------------------------------------------


class ListingToy(ToyProvider):
    def api_list(self, args: ToyArgs) -> list[str] | None:
        return list(self.remote)


def test_a_lost_create_never_takes_a_webhook_the_account_held_before(toy: ToyProvider) -> None:
    # Another stack's webhook, declared identically, exists before this process creates anything.
    ToyProvider.remote["wh_prod"] = {"url": "https://a.example", "events": [], "region": "eu", "created_at": "t"}
    ToyProvider.lose_next_create_answers = 1
    created = ListingToy().create({"url": "https://a.example", "events": []})
    assert created.id == "wh_1"
    assert sorted(ToyProvider.remote) == ["wh_1", "wh_prod"]


def test_identical_declarations_never_share_an_id(toy: ToyProvider) -> None:
    provider = ListingToy()
    first = provider.create({"url": "https://a.example", "events": []})
    ToyProvider.lose_next_create_answers = 1
    second = provider.create({"url": "https://a.example", "events": []})
    assert {first.id, second.id} == {"wh_1", "wh_2"}
    assert sorted(ToyProvider.remote) == ["wh_1", "wh_2"]


def test_a_lost_create_brings_what_it_made_to_the_declaration(toy: ToyProvider) -> None:
    class Drifting(ListingToy):
        def api_create(self, args: ToyArgs) -> tuple[str, dict[str, Any]]:
            self.remote["wh_9"] = {"url": args.url, "events": [], "region": args.region, "created_at": "t0"}
            raise TransientError("Toy", "create webhook", status=503, maybe_committed=True)

    created = Drifting().create({"url": "https://a.example", "events": ["order.paid"]})
    assert created.id == "wh_9"
    assert ToyProvider.remote["wh_9"]["events"] == ["order.paid"]


class PausingToy(ListingToy):
    """Pauses between the tries of a lost create on the test's clock."""

    clock: Clock = SYSTEM_CLOCK

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.from_env(self.clock)


def test_a_create_that_commits_after_the_client_gave_up_is_not_sent_again(
    toy: ToyProvider, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    sent: list[str] = []
    monkeypatch.setenv("PULUMI_WEBHOOKS_REQUEST_TIMEOUT", "4")

    class Slow(PausingToy):
        looks = 0

        def api_create(self, args: ToyArgs) -> tuple[str, dict[str, Any]]:
            sent.append(args.url)
            raise TransientError("Toy", "create webhook", status=None, code="ReadTimeout", maybe_committed=True)

        def api_matches(self, args: ToyArgs) -> list[tuple[str, dict[str, Any]]]:
            Slow.looks += 1
            if Slow.looks == 2:  # the provider commits while the client pauses
                self.remote["wh_late"] = {"url": args.url, "events": [], "region": "eu", "created_at": "t"}
            return super().api_matches(args)

    Slow.clock = clock
    created = Slow().create({"url": "https://a.example", "events": []})
    assert created.id == "wh_late" and sent == ["https://a.example"]
    assert clock.sleeps and clock.sleeps[0] >= 4  # it waited about a request timeout before looking again
    assert clock.sleeps == [4]  # one pause (the timeout outweighs any backoff), then found


def test_the_deadline_stops_a_lost_create_that_never_shows_up(
    toy: ToyProvider, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    sent: list[str] = []
    monkeypatch.setenv("PULUMI_WEBHOOKS_REQUEST_TIMEOUT", "4")  # the deadline is 5 s (conftest)

    class Lost(PausingToy):
        def api_create(self, args: ToyArgs) -> tuple[str, dict[str, Any]]:
            sent.append(args.url)
            raise TransientError("Toy", "create webhook", status=None, code="ReadTimeout", maybe_committed=True)

    Lost.clock = clock
    with pytest.raises(TransientError, match="create webhook"):
        Lost().create({"url": "https://a.example", "events": []})
    # One 4 s pause fits in the deadline, a second would not: two sends, then the error.
    assert clock.sleeps == [4] and sent == ["https://a.example"] * 2


def test_after_a_dropped_connection_the_pause_is_a_backoff_not_a_request_timeout(
    toy: ToyProvider, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_REQUEST_TIMEOUT", "30")
    sent: list[str] = []

    class Dropped(PausingToy):
        def api_create(self, args: ToyArgs) -> tuple[str, dict[str, Any]]:
            sent.append(args.url)
            if len(sent) == 1:  # the server closed the connection without committing anything
                raise TransientError("Toy", "create webhook", status=None, code="RemoteProtocolError",
                                     maybe_committed=True)
            return super().api_create(args)

    Dropped.clock = clock
    created = Dropped().create({"url": "https://a.example", "events": []})
    assert created.id and sent == ["https://a.example"] * 2
    assert clock.sleeps and max(clock.sleeps) < 1  # the request is over either way: no 10 s wait (deadline 5 s)
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= RetryPolicy.base_delay  # the first backoff


# -- where a webhook lives ----------------------------------------------------------------------

ACME = ConnectionSpec(
    "acme", "Acme",
    (Setting("apiKey", "ACME_API_KEY", secret=True, required=True), Setting("baseUrl", "ACME_BASE_URL"),
     Setting("environment", "ACME_ENVIRONMENT")),
    {"production": "https://api.acme.invalid", "sandbox": "https://sandbox.acme.invalid"},
)


class LocatedToy(ListingToy):
    connection_spec = ACME
    seen: list[tuple[str, str]] = []

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        LocatedToy.seen.append(("read", ACME.resolve().base_url))
        return super().api_read(id_, state)

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        LocatedToy.seen.append(("delete", ACME.resolve().base_url))
        super().api_delete(id_, state)


def test_the_state_records_where_a_webhook_lives_and_a_new_host_replaces(toy: ToyProvider) -> None:
    LocatedToy.seen = []
    provider = LocatedToy()
    set_stack_config({"acme:baseUrl": "http://127.0.0.1:1/a/"})
    created = provider.create({"url": "https://a.example"})
    assert created.outs is not None and created.outs["base_url"] == "http://127.0.0.1:1/a"
    news = {"url": "https://a.example", "events": [], "region": "eu"}
    assert provider.diff("wh_1", created.outs, news).changes is False
    set_stack_config({"acme:baseUrl": "http://127.0.0.1:2/b"})
    moved = provider.diff("wh_1", created.outs, news)
    assert moved.changes is True and moved.replaces == ["base_url"]
    # Read and delete go where the webhook was made, not where the config points now.
    assert provider.read("wh_1", created.outs).outs["base_url"] == "http://127.0.0.1:1/a"
    provider.delete("wh_1", created.outs)
    assert LocatedToy.seen == [("read", "http://127.0.0.1:1/a"), ("delete", "http://127.0.0.1:1/a")]
    assert ACME.resolve().base_url == "http://127.0.0.1:2/b"


def test_not_found_is_confirmed_before_anything_is_dropped(toy: ToyProvider) -> None:
    class WrongPath(LocatedToy):
        def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
            raise NotFoundError("Acme", "list webhooks", status=404)

        def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
            raise NotFoundError("Acme", "delete webhook", status=404)

    set_stack_config({"acme:baseUrl": "http://127.0.0.1:1/typo"})
    state = {"url": "https://a.example", "events": [], "region": "eu", "base_url": "http://127.0.0.1:1/typo"}
    with pytest.raises(ConfigurationError, match=r"127\.0\.0\.1:1/typo \(from acme:baseUrl; set with "
                                                 r"acme:baseUrl or ACME_BASE_URL\)"):
        WrongPath().read("wh_1", state)
    with pytest.raises(ConfigurationError, match="acme:baseUrl"):
        WrongPath().delete("wh_1", state)

    class StillThere(LocatedToy):
        def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
            raise NotFoundError("Acme", "delete webhook", status=404)

    ToyProvider.remote["wh_1"] = {"url": "https://a.example", "events": [], "region": "eu", "created_at": "t"}
    with pytest.raises(NotFoundError):
        StillThere().delete("wh_1", state)
    del ToyProvider.remote["wh_1"]
    StillThere().delete("wh_1", state)  # a read proves it is gone: success


# -- delivery URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://ops:hunter2@hooks.example.com/x", "must not carry a user name or password"),
        ("https://hooks.example.com:99999/x", "invalid port"),
        ("https://hooks.example.com:0/x", "invalid port"),
        ("https://hooks.example.com:http/x", "invalid port"),
        ("https://hooks.example.com/" + "a" * 2100, "at most 2048 characters"),
        ("ftp://hooks.example.com/x", "must be a https:// URL"),
    ],
)
def test_a_delivery_url_breaking_a_rule_fails_check_naming_it(toy: ToyProvider, url: str, rule: str) -> None:
    failures = failures_by_field(toy.check({}, {"url": url}).failures)
    assert rule in failures["url"]
    assert "hunter2" not in failures["url"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "0.0.0.0", "api.localhost", "[fe80::1]"]
)
def test_a_target_only_this_machine_reaches_fails_for_a_provider_on_the_internet(host: str) -> None:
    provider = LocatedToy()
    set_stack_config({"acme:apiKey": "k", "acme:environment": "production"})
    failures = failures_by_field(provider.check({}, {"url": f"https://{host}/hook"}).failures)
    assert "only this machine can reach" in failures["url"] and "api.acme.invalid" in failures["url"]
    # Against a local provider (the sandbox) the same target is fine.
    set_stack_config({"acme:apiKey": "k", "acme:baseUrl": "http://127.0.0.1:8080/acme"})
    assert failures_by_field(provider.check({}, {"url": f"https://{host}/hook"}).failures) == {}


def test_a_host_that_merely_starts_like_a_local_one_is_public() -> None:
    provider = LocatedToy()
    set_stack_config({"acme:apiKey": "k", "acme:environment": "production"})
    for host in ("localhost.attacker.example", "127.0.0.1.nip.example", "10.0.0.1"):
        assert failures_by_field(provider.check({}, {"url": f"https://{host}/hook"}).failures) == {}



# -- accounts ------------------------------------------------------------------------------------


def test_an_account_reads_its_own_settings_from_structured_config_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    set_stack_config({
        "acme:apiKey": "top-level-key",
        "acme:accounts": '{"brand-b": {"apiKey": "brand-b-key", "environment": "sandbox"}}',
    })
    with for_account("brand-b"):
        conn = ACME.resolve()
    assert (conn.require("apiKey"), conn.base_url, conn.account) == ("brand-b-key", "https://sandbox.acme.invalid",
                                                                     "brand-b")
    # No fallback to the top level: an account states its own settings.
    monkeypatch.setenv("ACME_BRANDC_API_KEY", "from-env")
    with for_account("brandC"):
        conn = ACME.resolve()
    assert conn.require("apiKey") == "from-env" and conn.base_url == "https://api.acme.invalid"
    assert ACME.resolve().require("apiKey") == "top-level-key"
    assert account_env("PHONEPE_CLIENT_SECRET", "phonepe", "brand-b") == "PHONEPE_BRAND_B_CLIENT_SECRET"


def test_each_connection_mistake_fails_check_naming_the_key_and_the_variable() -> None:
    provider = LocatedToy()
    declared = {"url": "https://a.example"}

    def reasons(config: dict[str, str], **news: Any) -> list[str]:
        set_stack_config(config)
        return [f.reason for f in provider.check({}, {**declared, **news}).failures]

    [unknown] = reasons({"acme:apiKey": "k"}, account="brandB")
    assert "unknown account 'brandB'" in unknown
    assert "pulumi config set --path --secret 'acme:accounts.brandB.apiKey'" in unknown
    assert "ACME_BRANDB_API_KEY" in unknown
    [env] = reasons({"acme:apiKey": "k", "acme:environment": "prod"})
    assert "acme:environment must be one of production, sandbox, not 'prod'" in env
    [base] = reasons({"acme:apiKey": "k", "acme:baseUrl": "127.0.0.1:8080/acme"})
    assert "acme:baseUrl must be an absolute http(s) URL" in base and "ACME_BASE_URL" in base
    [missing] = reasons({"acme:accounts": '{"brandB": {"environment": "sandbox"}}'}, account="brandB")
    assert "missing setting acme:accounts.brandB.apiKey" in missing and "ACME_BRANDB_API_KEY" in missing
    [bad_name] = reasons({"acme:apiKey": "k"}, account="brand b")
    assert "account: must be 1-64 letters" in bad_name or "must be 1-64 letters" in bad_name
    assert reasons({"acme:apiKey": "s3cr3t-value", "acme:environment": "prod"})[0].count("s3cr3t") == 0


def test_an_account_change_replaces_and_each_account_is_operated_with_its_own_settings() -> None:
    LocatedToy.seen = []
    provider = LocatedToy()
    set_stack_config({
        "acme:apiKey": "k", "acme:baseUrl": "http://127.0.0.1:1/top",
        "acme:accounts": '{"brandB": {"apiKey": "b", "baseUrl": "http://127.0.0.1:2/b"}}',
    })
    created = provider.create({"url": "https://a.example", "account": "brandB"})
    assert created.outs is not None
    assert created.outs["account"] == "brandB" and created.outs["base_url"] == "http://127.0.0.1:2/b"
    same = provider.diff(created.id, created.outs, {"url": "https://a.example", "events": [], "region": "eu",
                                                     "account": "brandB"})
    assert same.changes is False
    moved = provider.diff(created.id, created.outs, {"url": "https://a.example", "events": [], "region": "eu"})
    assert moved.changes is True and moved.replaces == ["account"]
    provider.delete(created.id, created.outs)
    assert LocatedToy.seen == [("delete", "http://127.0.0.1:2/b")]
    default = provider.create({"url": "https://a.example"})
    assert default.outs is not None and "account" not in default.outs


# -- the lists creates wait for start early -----------------------------------------------------


class SlowListingToy(LocatedToy):
    """Lists take a while and are recorded with the account they were made for."""

    listed: list[str] = []

    def api_list(self, args: ToyArgs) -> list[str] | None:
        time.sleep(0.05)
        SlowListingToy.listed.append(ACME.resolve().base_url)
        return super().api_list(args)


def test_a_preview_lists_nothing_and_the_first_create_lists_every_checked_location(
    toy: ToyProvider, monkeypatch: pytest.MonkeyPatch,
) -> None:
    SlowListingToy.listed = []
    set_stack_config({"acme:apiKey": "k", "acme:baseUrl": "http://127.0.0.1:1/a",
                      "acme:accounts": '{"eu": {"apiKey": "k2", "baseUrl": "http://127.0.0.1:2/b"}}'})
    provider = SlowListingToy()
    checked = [provider.check({}, {"url": f"https://a.example/{i}", "account": account})
               for i, account in enumerate((None, "eu", None, "eu"))]
    assert all(not c.failures for c in checked)
    # An existing resource's check (olds given) is an update, not a create: nothing to warm.
    provider.check({"url": "https://a.example/0"}, {"url": "https://a.example/9", "account": "us"})
    time.sleep(0.2)
    assert SlowListingToy.listed == []  # a preview: checks only, no call
    provider.create(checked[0].inputs)
    reset_claims()  # waits for the warm-ups
    # The create's own location was listed once, and the other account's at the same time.
    assert sorted(SlowListingToy.listed) == ["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"]


class RefusingToy(ToyProvider):
    """Refuses an update or a delete of a missing webhook with a plain 400, as some APIs do."""

    def api_update(self, id_: str, olds: Mapping[str, Any], args: ToyArgs) -> dict[str, Any]:
        if id_ not in self.remote:
            raise RejectedError("Toy", "update webhook", status=400, message="invalid webhook")
        return super().api_update(id_, olds, args)

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        if id_ not in self.remote or self.remote[id_]["url"].endswith("/locked"):
            raise RejectedError("Toy", "delete webhook", status=400, message="cannot delete")
        super().api_delete(id_, state)


def test_a_refused_delete_of_a_missing_webhook_is_done_and_of_a_live_one_fails(toy: ToyProvider) -> None:
    refusing = RefusingToy()
    refusing.delete("wh_404", {"url": "https://a.example/h", "events": []})  # a read proves it gone
    made = refusing.create({"url": "https://a.example/locked", "events": []})
    with pytest.raises(RejectedError, match="cannot delete") as refused:
        refusing.delete(made.id, dict(made.outs or {}))
    assert refused.value.status == 400
    assert made.id in ToyProvider.remote  # never dropped while it is live


def test_a_refused_update_of_a_missing_webhook_says_to_refresh(toy: ToyProvider) -> None:
    with pytest.raises(WebhookError, match="pulumi refresh"):
        RefusingToy().update("wh_404", {"url": "https://a.example/h", "events": [], "region": "eu"},
                             {"url": "https://b.example/h", "events": [], "region": "eu"})


def test_adopting_a_missing_webhook_reports_no_status_the_wire_did_not_carry(toy: ToyProvider) -> None:
    with pytest.raises(NotFoundError) as missing:
        toy.create({"url": "https://a.example/h", "events": [], "webhook_id": "wh_404"})
    assert missing.value.status is None and "HTTP" not in str(missing.value)


def test_a_provider_uses_the_clients_it_is_given_and_pickles_without_them() -> None:
    answered: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        answered.append(request.url.path)
        return httpx.Response(200, json={})

    class Reading(ToyProvider):
        connection_spec = ConnectionSpec(namespace="acme", title="Acme", settings=(),
                                         base_urls={"production": "https://api.acme.invalid"})

        @staticmethod
        def client_parts(connection: Connection) -> ClientParts:
            return Dialect(), None

    given = Clients(httpx.MockTransport(api), FakeClock())
    provider = Reading(given)
    provider.client().request("read webhook", "GET", "/hooks/1")
    assert answered == ["/hooks/1"]
    assert provider.client() is provider.client() and provider.retry_policy().clock is given.clock
    # A provider made the way a program makes it holds nothing: its pickle carries no clients.
    assert vars(ToyProvider()) == {} and "_clients" in vars(provider)
    assert Reading().clients is _http.process_clients() is not given
