"""Safepay Raast Wire: argument rules, diffs, error mapping, auth and the lifecycle against the sandbox."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from pulumi_webhooks import _config, _http, _lifecycle, safepay
from pulumi_webhooks._errors import (
    AdoptionError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    InputError,
    NotFoundError,
    RejectedError,
    TransientError,
    WebhookError,
)
from pulumi_webhooks._lifecycle import PROVIDER_KEY, UNKNOWN
from pulumi_webhooks.safepay import RaastWebhookProvider
from pulumi_webhooks.sandbox import Fault, Sandbox, SandboxTransport
from pulumi_webhooks.sandbox.safepay import (
    SANDBOX_AGGREGATOR_ID,
    SANDBOX_SECOND_AGGREGATOR_ID,
    SANDBOX_SECRET_KEY,
)

from ..helpers import SANDBOX_URL, FakeClock, failures_by_field, sandbox_client

URL = "https://hooks.example.com/safepay"
OTHER_AGG = "agg_00000000-0000-4000-8000-000000000000"


@pytest.fixture
def provider() -> RaastWebhookProvider:
    return RaastWebhookProvider()


def checked(provider: RaastWebhookProvider, **news: Any) -> dict[str, Any]:
    result = provider.check({}, {"url": URL, "event_types": ["payment.completed"], **news})
    assert result.failures == [], result.failures
    return dict(result.inputs)


def failures(provider: RaastWebhookProvider, **news: Any) -> dict[str, str]:
    base: dict[str, Any] = {"url": URL, "event_types": ["payment.completed"]}
    base.update(news)
    base = {k: v for k, v in base.items() if v is not ...}
    return failures_by_field(provider.check({}, base).failures)


# -- check ----------------------------------------------------------------------------------


def test_check_normalises_and_fills_defaults(provider: RaastWebhookProvider) -> None:
    inputs = checked(provider, url=f"  {URL} ",
                     event_types=["refund.created", "payment.completed", "refund.created"])
    assert inputs == {
        "url": URL,
        "event_types": ["payment.completed", "refund.created"],
        "description": "",
        "enabled": True,
        "aggregator_id": None,
        "rotation": None,
        "webhook_id": None,
    }


def test_check_requires_url_and_event_types(provider: RaastWebhookProvider) -> None:
    assert failures(provider, url=...) == {"url": "is required"}
    assert failures(provider, event_types=...) == {"event_types": "is required"}


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("url", "http://hooks.example.com/x", "https://"),
        ("url", "hooks.example.com/x", "https://"),
        ("url", "https:///nohost", "host"),
        ("url", 42, "string"),
        ("event_types", [], "at least 1 event"),
        ("event_types", "payment.completed", "list of event names"),
        ("event_types", ["payment.sent"], "unknown event 'payment.sent'"),
        ("description", 7, "string"),
        ("enabled", "yes", "must be true or false"),
        ("enabled", 1, "must be true or false"),
        ("aggregator_id", "merchant_1", "Safepay aggregator id"),
        ("aggregator_id", "agg_x/../y", "Safepay aggregator id"),
        ("aggregator_id", "", "Safepay aggregator id"),
        ("rotation", "  ", "must not be empty"),
        ("webhook_id", "12345", "Safepay webhook id"),
        ("webhook_id", "wh_a?b", "Safepay webhook id"),
    ],
)
def test_check_rules_name_the_field(provider: RaastWebhookProvider, field: str, value: Any, rule: str) -> None:
    found = failures(provider, **{field: value})
    assert list(found) == [field]
    assert rule in found[field]


def test_near_miss_event_gets_a_hint(provider: RaastWebhookProvider) -> None:
    reason = failures(provider, event_types=["payment.complete"])["event_types"]
    assert "did you mean 'payment.completed'?" in reason


def test_every_documented_event_is_accepted(provider: RaastWebhookProvider) -> None:
    assert checked(provider, event_types=list(safepay.EVENTS))["event_types"] == sorted(safepay.EVENTS)
    assert len(safepay.EVENTS) == 21


def test_credentials_and_unknown_arguments_are_not_inputs(provider: RaastWebhookProvider) -> None:
    found = failures(provider, secret_key="sk_live_x", events=["payment.completed"])
    assert found == {"secret_key": "is not an argument of this resource",
                     "events": "is not an argument of this resource"}
    # Output names may come back in news (the resource declares them as None).
    inputs = checked(provider, secret=None, secret_version=None, effective_aggregator_id=None,
                     **{PROVIDER_KEY: "p"})
    assert "secret" not in inputs and "secretKey" not in inputs


def test_unknown_values_pass_check(provider: RaastWebhookProvider) -> None:
    news = {name: UNKNOWN for name in safepay.RaastWebhookArgs.model_fields}
    result = provider.check({}, news)
    assert result.failures == []
    assert result.inputs["url"] == UNKNOWN
    partly = provider.check({}, {"url": URL, "event_types": ["payment.completed", UNKNOWN]})
    assert partly.failures == []


# -- diff ------------------------------------------------------------------------------------


def outputs_of(inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    outs = {**inputs, "webhook_id": "wh_1", "secret": "c2VjcmV0", "secret_version": 1,
            "created_at": "t", "updated_at": "t", "effective_aggregator_id": SANDBOX_AGGREGATOR_ID}
    outs.update(extra)
    return {k: v for k, v in outs.items() if v is not None}  # the engine keeps no nulls


def test_unchanged_declaration_is_no_change_whatever_the_event_order(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider, event_types=["refund.created", "payment.completed"]))
    news = checked(provider, event_types=["payment.completed", "refund.created", "payment.completed"])
    result = provider.diff("wh_1", olds, news)
    assert result.changes is False and result.replaces == []
    # Even unnormalised olds (an older state) compare as a set.
    olds["event_types"] = ["refund.created", "payment.completed", "refund.created"]
    assert provider.diff("wh_1", olds, news).changes is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "https://hooks.example.com/other"),
        ("event_types", ["payment.failed"]),
        ("description", "new words"),
        ("enabled", False),
        ("rotation", "2025-q1"),
    ],
)
def test_in_place_changes(provider: RaastWebhookProvider, field: str, value: Any) -> None:
    olds = outputs_of(checked(provider))
    result = provider.diff("wh_1", olds, checked(provider, **{field: value}))
    assert result.changes is True
    assert result.replaces == []
    assert result.stables == ["webhook_id"]


def test_unknown_during_preview_is_a_change(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider))
    news = provider.check({}, {"url": UNKNOWN, "event_types": ["payment.completed"]}).inputs
    assert provider.diff("wh_1", olds, news).changes is True


def test_unset_aggregator_id_is_never_a_change(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider))  # created with the config's aggregator
    assert provider.diff("wh_1", olds, checked(provider)).changes is False
    # Declared once, then removed: the webhook stays where it is.
    olds = outputs_of(checked(provider, aggregator_id=SANDBOX_AGGREGATOR_ID))
    assert provider.diff("wh_1", olds, checked(provider)).changes is False


def test_naming_the_aggregator_it_lives_in_is_no_change(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider))
    news = checked(provider, aggregator_id=SANDBOX_AGGREGATOR_ID)
    assert provider.diff("wh_1", olds, news).changes is False


def test_another_aggregator_replaces(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider))
    result = provider.diff("wh_1", olds, checked(provider, aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID))
    assert result.changes is True and result.replaces == ["aggregator_id"]
    unknown = provider.diff("wh_1", olds, {**checked(provider), "aggregator_id": UNKNOWN})
    assert unknown.replaces == ["aggregator_id"]


def test_adoption_id_replaces_only_when_it_differs(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider))
    assert provider.diff("wh_1", olds, checked(provider, webhook_id="wh_1")).changes is False
    assert provider.diff("wh_1", olds, checked(provider, webhook_id="wh_2")).replaces == ["webhook_id"]


def test_changed_credentials_are_not_a_diff(provider: RaastWebhookProvider) -> None:
    olds = outputs_of(checked(provider))
    _config.set_stack_config({"safepay:secretKey": "sk_live_new", "safepay:aggregatorId": OTHER_AGG})
    assert provider.diff("wh_1", olds, checked(provider)).changes is False


# -- connection, auth and error mapping ---------------------------------------------------------


@pytest.mark.usefixtures("unconfigured")
def test_connection_spec_and_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = safepay.CONNECTION
    assert spec.namespace == "safepay"
    assert [(s.key, s.env, s.secret) for s in spec.settings] == [
        ("secretKey", "SAFEPAY_SECRET_KEY", True),
        ("aggregatorId", "SAFEPAY_AGGREGATOR_ID", False),
        ("baseUrl", "SAFEPAY_BASE_URL", False),
        ("environment", "SAFEPAY_ENVIRONMENT", False),
    ]
    assert spec.resolve().base_url == "https://api.getsafepay.com/raastwire"
    monkeypatch.setenv("SAFEPAY_ENVIRONMENT", "sandbox")
    assert spec.resolve().base_url == "https://dev.api.getsafepay.com/raastwire"
    _config.set_stack_config({"safepay:environment": "production"})
    assert spec.resolve().base_url == "https://api.getsafepay.com/raastwire"


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def mock_api(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> Iterator[Callable[[Handler], list[httpx.Request]]]:
    """Route the Safepay client to a handler (its retries pausing on ``clock``); returns the requests it saw."""
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "1")
    _config.set_stack_config({"safepay:secretKey": "sk_live_topsecret_key_1",
                              "safepay:aggregatorId": SANDBOX_AGGREGATOR_ID})
    stack: list[Any] = []

    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        context = _http.use_clients(_http.Clients(httpx.MockTransport(record), clock))
        context.__enter__()
        stack.append(context)
        return seen

    yield install
    for context in reversed(stack):
        context.__exit__(None, None, None)


def endpoint_json(**extra: Any) -> dict[str, Any]:
    return {"token": "wh_1", "aggregator_id": SANDBOX_AGGREGATOR_ID, "url": URL, "description": "",
            "enabled": True, "event_filter_json": '["payment.completed"]', "secret_version": 1,
            "created_at": "2025-12-02T12:48:35Z", "updated_at": "2025-12-02T12:48:35Z", **extra}


@pytest.mark.usefixtures("unconfigured")
def test_key_header_on_every_call_and_401_is_final(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    seen = mock_api(lambda r: httpx.Response(401, json={
        "api_version": "v1",
        "error": {"code": "error.unauthorized_access",
                  "message": "key sk_live_topsecret_key_1 is not valid"}}))
    with pytest.raises(AuthenticationError) as failed:
        provider.read("wh_1", outputs_of(checked(provider)))
    error = failed.value
    assert (error.provider, error.operation, error.status, error.code) == (
        "Safepay", "read webhook", 401, "error.unauthorized_access")
    assert "sk_live_topsecret_key_1" not in str(error)
    assert "***" in str(error) and "safepay:secretKey" in str(error)
    assert len(seen) == 1  # a static key: nothing to renew, no retry
    assert seen[0].headers["X-SFPY-AGGREGATOR-SECRET-KEY"] == "sk_live_topsecret_key_1"
    assert seen[0].url.path == f"/raastwire/v1/aggregators/{SANDBOX_AGGREGATOR_ID}/webhooks/wh_1"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (400, {"code": "error.bad_request", "message": "url: is invalid"}, RejectedError, "error.bad_request",
         "url: is invalid"),
        (404, {"code": "error.not_found", "message": "Requested resource not found"}, NotFoundError,
         "error.not_found", "Requested resource not found"),
        (409, {"code": "error.conflict", "message": "Resource already exists"}, RejectedError, "error.conflict",
         "Resource already exists"),
        (403, {"api_version": "v1", "error": {"code": "error.forbidden", "message": "no"}}, AuthenticationError,
         "error.forbidden", "no"),
        (500, None, TransientError, None, "Internal Server Error"),
    ],
)
def test_error_envelopes_map_to_errors(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]],
    status: int, body: Any, cls: type[ApiError], code: str | None, message: str,
) -> None:
    mock_api(lambda r: httpx.Response(status, json=body) if body is not None else httpx.Response(status))
    args = provider._args(checked(provider))
    with pytest.raises(cls) as failed:
        provider.api_update("wh_1", outputs_of(checked(provider)), args)
    error = failed.value
    assert type(error) is cls
    assert (error.provider, error.operation, error.status, error.code) == ("Safepay", "update webhook", status, code)
    assert error.message is not None and message in error.message
    assert str(error).startswith("Safepay: update webhook failed (HTTP")


def test_rate_limit_is_retried_after_retry_after(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]], clock: FakeClock
) -> None:
    answers = iter([
        httpx.Response(429, headers={"Retry-After": "0"}, json={"code": "error.too_many_requests",
                                                                 "message": "slow down"}),
        httpx.Response(200, json={"api_version": "v1", "data": {"endpoint": endpoint_json(), "secret": "c2Vj"}}),
    ])
    empty = {"api_version": "v1", "data": {"endpoints": [], "count": "0"}}
    seen = mock_api(lambda r: httpx.Response(200, json=empty) if r.method == "GET" else next(answers))
    id_, live = provider.api_create(provider._args(checked(provider)))
    assert id_ == "wh_1" and live["secret"] == "c2Vj"
    # A 429 proves nothing was made (the GET is the list of what was there before).
    assert [r.method for r in seen if r.method != "GET"] == ["POST", "POST"]
    # "Retry-After: 0" asks for no wait: the pause is the first backoff alone.
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= _http.RetryPolicy.base_delay


def test_webhook_secrets_are_redacted_from_later_errors(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    secret = "9sU3KVM5iQYZsxt40st1nkJsvbyuLnquB3Re1Q7k08w="

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"api_version": "v1",
                                             "data": {"endpoint": endpoint_json(secret=secret), "secret": secret}})
        if request.method == "GET" and request.url.path.endswith("/webhooks"):
            # The list holds the webhook, so the 400 below is a genuine error, not "gone".
            return httpx.Response(200, json={"api_version": "v1", "data": {
                "endpoints": [endpoint_json(secret=secret)], "count": "1"}})
        return httpx.Response(400, json={"code": "error.bad_request", "message": f"secret {secret} is stale"})

    mock_api(handler)
    id_, _ = provider.api_create(provider._args(checked(provider)))
    with pytest.raises(ApiError) as failed:
        provider.api_update(id_, outputs_of(checked(provider)), provider._args(checked(provider)))
    assert secret not in str(failed.value)


def test_unexpected_answers_are_reported(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    mock_api(lambda r: httpx.Response(200, json={"api_version": "v1", "data": {}}))
    with pytest.raises(ApiError, match="unexpected response"):
        provider.api_read("wh_1", outputs_of(checked(provider)))
    mock_api(lambda r: httpx.Response(200, json={"api_version": "v1", "data": {
        "endpoint": endpoint_json(event_filter_json="payment.completed")}}))
    with pytest.raises(ApiError, match="event_filter_json"):
        provider.api_read("wh_1", outputs_of(checked(provider)))


def test_nulls_in_an_endpoint_read_as_the_defaults(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    mock_api(lambda r: httpx.Response(200, json={"api_version": "v1", "data": {
        "endpoint": endpoint_json(description=None, enabled=None, event_filter_json=None)}}))
    live = provider.api_read("wh_1", outputs_of(checked(provider)))
    assert live is not None
    assert (live["description"], live["enabled"], live["event_types"]) == ("", True, [])


@pytest.mark.usefixtures("unconfigured")
def test_missing_settings_name_config_and_environment(provider: RaastWebhookProvider) -> None:
    declared = {"url": URL, "event_types": ["payment.completed"]}
    # Preview already names the missing key: `up` would need it.
    [missing] = provider.check({}, declared).failures
    assert "missing setting safepay:secretKey" in missing.reason and "SAFEPAY_SECRET_KEY" in missing.reason
    args = provider._args(declared)
    with pytest.raises(ConfigurationError) as no_aggregator:
        provider.api_create(args)
    assert "aggregator_id" in str(no_aggregator.value) and "SAFEPAY_AGGREGATOR_ID" in str(no_aggregator.value)
    _config.set_stack_config({"safepay:aggregatorId": SANDBOX_AGGREGATOR_ID})
    with pytest.raises(ConfigurationError) as no_key:
        provider.api_create(args)
    assert "safepay:secretKey" in str(no_key.value) and "SAFEPAY_SECRET_KEY" in str(no_key.value)
    _config.set_stack_config({"safepay:aggregatorId": "nope"})
    with pytest.raises(ConfigurationError, match="aggregatorId"):
        provider.api_create(args)


def test_environment_variables_are_used_without_stack_config(
    sandbox: Sandbox, provider: RaastWebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config.set_stack_config({})
    monkeypatch.setenv("SAFEPAY_SECRET_KEY", SANDBOX_SECRET_KEY)
    monkeypatch.setenv("SAFEPAY_AGGREGATOR_ID", SANDBOX_AGGREGATOR_ID)
    monkeypatch.setenv("SAFEPAY_BASE_URL", "http://sandbox.invalid/safepay")
    result = provider.create(checked(provider))
    assert outs(result)["effective_aggregator_id"] == SANDBOX_AGGREGATOR_ID


def test_provider_instance_holds_no_state(provider: RaastWebhookProvider, sandbox: Sandbox) -> None:
    provider.create(checked(provider))
    assert vars(provider) == {}
    assert SANDBOX_SECRET_KEY.encode() not in pickle.dumps(provider)


# -- lifecycle against the sandbox -----------------------------------------------------------------


def outs(result: CreateResult | UpdateResult | ReadResult) -> dict[str, Any]:
    assert result.outs is not None
    return dict(result.outs)


def stored(result: CreateResult | UpdateResult | ReadResult) -> dict[str, Any]:
    """Outputs as the engine hands them back: null properties are not kept in the state."""
    return {k: v for k, v in outs(result).items() if v is not None}


def remote(sandbox: Sandbox, id_: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = sandbox.apps["safepay"].data["endpoints"][id_]
    return endpoint


def writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in sandbox.journal if e["method"] != "GET"]


def test_create_outputs_every_input_and_the_secret(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    inputs = checked(provider, description="orders", rotation="first")
    result = provider.create(inputs)
    held = remote(sandbox, result.id)
    assert result.id.startswith("wh_")
    assert outs(result) == {
        **inputs,
        "webhook_id": result.id,
        "secret": held["secret"],
        "secret_version": 1,  # a rotation set at create does not rotate
        "created_at": held["created_at"],
        "updated_at": held["updated_at"],
        "effective_aggregator_id": SANDBOX_AGGREGATOR_ID,
        "base_url": f"{SANDBOX_URL}/safepay",
    }
    assert outs(result)["aggregator_id"] is None
    assert json.loads(held["event_filter_json"]) == ["payment.completed"]
    assert held["description"] == "orders" and held["aggregator_id"] == SANDBOX_AGGREGATOR_ID
    assert writes(sandbox) == [("POST", f"/safepay/v1/aggregators/{SANDBOX_AGGREGATOR_ID}/webhooks")]


def test_create_in_a_declared_aggregator(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    result = provider.create(checked(provider, aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID))
    assert remote(sandbox, result.id)["aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID
    assert outs(result)["effective_aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID
    assert outs(result)["aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID


def test_a_foreign_aggregator_is_refused(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    with pytest.raises(AuthenticationError) as failed:
        provider.create(checked(provider, aggregator_id=OTHER_AGG))
    assert failed.value.status == 401
    assert SANDBOX_SECRET_KEY not in str(failed.value)


def test_read_matches_create_and_finds_drift(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    created = provider.create(checked(provider, event_types=["refund.created", "payment.completed"]))
    same = provider.read(created.id, {**stored(created), PROVIDER_KEY: "p"})
    assert same.id == created.id and outs(same) == stored(created)
    assert same.inputs == {k: v for k, v in stored(created).items()
                           if k in safepay.RaastWebhookArgs.model_fields and k != "webhook_id"}

    sandbox.apps["safepay"].edit(created.id, {"url": "https://elsewhere.example.com/x", "enabled": False,
                                              "event_types": ["settlement.failed"]})
    drifted = provider.read(created.id, stored(created))
    assert drifted.inputs is not None
    assert drifted.inputs["url"] == "https://elsewhere.example.com/x"
    assert drifted.inputs["enabled"] is False
    assert drifted.inputs["event_types"] == ["settlement.failed"]
    assert drifted.inputs.get("aggregator_id") is None  # the declaration, not the effective aggregator
    assert provider.diff(created.id, outs(drifted), checked(provider, event_types=[
        "refund.created", "payment.completed"])).changes is True


def test_read_takes_a_dashboard_rotation(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    created = provider.create(checked(provider))
    sandbox.apps["safepay"].edit(created.id, {"rotate": True})
    read = provider.read(created.id, stored(created))
    assert outs(read)["secret"] == remote(sandbox, created.id)["secret"] != outs(created)["secret"]
    assert outs(read)["secret_version"] == 2


class _NoSecrets(httpx.BaseTransport):
    """The sandbox, with the secret left out of every endpoint read (as some reads may)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = SandboxTransport(sandbox)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or response.status_code != 200:
            return response
        body = json.loads(response.read())
        for endpoint in [body["data"].get("endpoint"), *body["data"].get("endpoints", [])]:
            if endpoint:
                endpoint.pop("secret", None)
        return httpx.Response(200, json=body, request=request)


def test_read_without_a_secret_keeps_the_stored_one(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    created = provider.create(checked(provider))
    with _http.use_clients(_http.Clients(_NoSecrets(sandbox))):
        read = provider.read(created.id, stored(created))
    assert outs(read)["secret"] == outs(created)["secret"]


def test_read_addresses_the_aggregator_it_was_created_in(
    sandbox: Sandbox, provider: RaastWebhookProvider
) -> None:
    created = provider.create(checked(provider))
    _config.set_stack_config({**sandbox.stack_config(), "safepay:aggregatorId": SANDBOX_SECOND_AGGREGATOR_ID})
    assert provider.read(created.id, stored(created)).id == created.id
    updated = provider.update(created.id, stored(created), checked(provider, description="still here"))
    assert outs(updated)["effective_aggregator_id"] == SANDBOX_AGGREGATOR_ID
    provider.delete(created.id, stored(updated))
    assert sandbox.apps["safepay"].data["endpoints"] == {}
    assert all(SANDBOX_SECOND_AGGREGATOR_ID not in path for _, path in writes(sandbox))


@pytest.fixture(params=[400, 404], ids=["gone-is-400", "gone-is-404"])
def missing(request: pytest.FixtureRequest, sandbox: Sandbox) -> int:
    """The sandbox answering an unknown webhook id with either status Safepay may use."""
    status: int = request.param
    sandbox.apps["safepay"].missing_status = status  # type: ignore[attr-defined]
    return status


def test_read_of_a_deleted_webhook_is_gone(
    sandbox: Sandbox, provider: RaastWebhookProvider, missing: int
) -> None:
    created = provider.create(checked(provider))
    sandbox.apps["safepay"].remove(created.id)
    mark = len(sandbox.journal)
    gone = provider.read(created.id, stored(created))
    assert gone.id == "" and outs(gone) == {}
    # The answer to the GET of the webhook was confirmed by the list before "gone" was concluded.
    calls = [(e["method"], e["path"].split("?")[0], e["status"]) for e in sandbox.journal[mark:]]
    collection = f"/safepay/v1/aggregators/{SANDBOX_AGGREGATOR_ID}/webhooks"
    assert calls == [("GET", f"{collection}/{created.id}", missing), ("GET", collection, 200)]


def _list_of(*endpoints: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"api_version": "v1", "data": {
        "endpoints": list(endpoints), "count": str(len(endpoints))}})


BAD_REQUEST = {"code": "error.bad_request", "message": "invalid webhook token"}
NOT_FOUND = {"code": "error.not_found", "message": "Requested resource not found"}


def _one_webhook(member: httpx.Response, listing: httpx.Response) -> Handler:
    """Calls on ``wh_1`` answer ``member``; the list answers ``listing``."""
    def handler(request: httpx.Request) -> httpx.Response:
        return listing if request.url.path.endswith("/webhooks") else member
    return handler


@pytest.mark.parametrize("status", [400, 404])
def test_read_error_for_a_listed_webhook_is_not_gone(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]], status: int
) -> None:
    body = BAD_REQUEST if status == 400 else NOT_FOUND
    mock_api(_one_webhook(httpx.Response(status, json=body), _list_of(endpoint_json())))
    with pytest.raises(ApiError) as failed:
        provider.read("wh_1", outputs_of(checked(provider)))
    # Neither "gone" (refresh would drop a live webhook) nor "wrong base URL".
    assert type(failed.value) is ApiError
    assert failed.value.status == status and "still listed" in str(failed.value)


@pytest.mark.usefixtures("unconfigured")
@pytest.mark.parametrize("status", [400, 404])
def test_read_when_the_list_is_not_there_names_the_base_url(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]], status: int
) -> None:
    body = BAD_REQUEST if status == 400 else NOT_FOUND
    mock_api(_one_webhook(httpx.Response(status, json=body), httpx.Response(404, json=NOT_FOUND)))
    with pytest.raises(ConfigurationError) as failed:
        provider.read("wh_1", outputs_of(checked(provider)))
    assert "safepay:baseUrl" in str(failed.value) and "SAFEPAY_BASE_URL" in str(failed.value)
    assert "https://api.getsafepay.com/raastwire" in str(failed.value)


def test_delete_answered_400_while_listed_fails(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    seen = mock_api(_one_webhook(httpx.Response(400, json=BAD_REQUEST), _list_of(endpoint_json())))
    with pytest.raises(ApiError, match="still listed") as failed:
        provider.delete("wh_1", outputs_of(checked(provider)))
    assert type(failed.value) is ApiError and failed.value.status == 400
    assert [r.method for r in seen] == ["DELETE", "GET"]


@pytest.mark.parametrize("status", [400, 404])
def test_delete_answered_400_or_404_and_not_listed_is_done(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]], status: int
) -> None:
    body = BAD_REQUEST if status == 400 else NOT_FOUND
    seen = mock_api(_one_webhook(httpx.Response(status, json=body), _list_of(endpoint_json(token="wh_2"))))
    provider.delete("wh_1", outputs_of(checked(provider)))
    assert "DELETE" in [r.method for r in seen]


def test_delete_when_the_list_is_not_there_names_the_base_url(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    mock_api(_one_webhook(httpx.Response(400, json=BAD_REQUEST), httpx.Response(404, json=NOT_FOUND)))
    with pytest.raises(ConfigurationError, match="safepay:baseUrl"):
        provider.delete("wh_1", outputs_of(checked(provider)))


def test_update_answered_400_for_a_gone_webhook_is_not_found(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    mock_api(_one_webhook(httpx.Response(400, json=BAD_REQUEST), _list_of()))
    args = provider._args(checked(provider, description="x"))
    with pytest.raises(NotFoundError, match="not in aggregator") as failed:
        provider.api_update("wh_1", outputs_of(checked(provider)), args)
    assert failed.value.status == 400 and failed.value.code == "error.bad_request"
    # Through the lifecycle (which confirms with a read): the message says to refresh.
    with pytest.raises(WebhookError, match="pulumi refresh"):
        provider.update("wh_1", outputs_of(checked(provider)), checked(provider, description="x"))


def test_update_answered_400_for_a_listed_webhook_is_a_bad_request(
    provider: RaastWebhookProvider, mock_api: Callable[[Handler], list[httpx.Request]]
) -> None:
    rule = {"code": "error.bad_request", "message": "url: is invalid"}
    mock_api(_one_webhook(httpx.Response(400, json=rule), _list_of(endpoint_json())))
    with pytest.raises(ApiError) as failed:
        provider.update("wh_1", outputs_of(checked(provider)), checked(provider, description="x"))
    assert type(failed.value) is ApiError and "url: is invalid" in str(failed.value)


def test_update_in_place_and_rotation(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    created = provider.create(checked(provider, rotation="one"))
    first_secret = outs(created)["secret"]

    news = checked(provider, url="https://hooks.example.com/v2", event_types=["refund.failed", "payment.failed"],
                   description="v2", enabled=False, rotation="one")
    updated = provider.update(created.id, stored(created), news)
    held = remote(sandbox, created.id)
    assert (held["url"], held["description"], held["enabled"]) == ("https://hooks.example.com/v2", "v2", False)
    assert json.loads(held["event_filter_json"]) == ["payment.failed", "refund.failed"]
    assert outs(updated)["secret"] == first_secret and outs(updated)["secret_version"] == 1
    assert outs(updated)["webhook_id"] == created.id
    assert set(outs(updated)) == set(outs(created))

    rotated = provider.update(created.id, stored(updated), {**news, "rotation": "two"})
    assert outs(rotated)["secret"] == remote(sandbox, created.id)["secret"] != first_secret
    assert outs(rotated)["secret_version"] == 2
    assert outs(rotated)["rotation"] == "two"
    assert writes(sandbox)[-1][0] == "PUT" and writes(sandbox)[-1][1].endswith(f"/{created.id}/rotate")

    removed = provider.update(created.id, stored(rotated), {**news, "rotation": None})
    assert outs(removed)["secret_version"] == 2  # removing the value asks for nothing
    assert outs(removed)["rotation"] is None

    again = provider.update(created.id, stored(removed), {**news, "rotation": "three"})
    assert outs(again)["secret_version"] == 3  # a first value after none rotates


def test_update_of_a_deleted_webhook_says_refresh(
    sandbox: Sandbox, provider: RaastWebhookProvider, missing: int
) -> None:
    created = provider.create(checked(provider))
    sandbox.apps["safepay"].remove(created.id)
    with pytest.raises(WebhookError, match="pulumi refresh"):
        provider.update(created.id, stored(created), checked(provider, description="x"))
    with pytest.raises(WebhookError, match="pulumi refresh"):
        provider.update(created.id, stored(created), checked(provider, rotation="again"))


def test_delete_and_delete_again(sandbox: Sandbox, provider: RaastWebhookProvider, missing: int) -> None:
    created = provider.create(checked(provider))
    provider.delete(created.id, {**stored(created), PROVIDER_KEY: "p"})
    assert sandbox.apps["safepay"].data["endpoints"] == {}
    provider.delete(created.id, stored(created))  # already gone: success
    assert [m for m, _ in writes(sandbox)] == ["POST", "DELETE", "DELETE"]


def _make_remote(sandbox: Sandbox, aggregator: str = SANDBOX_AGGREGATOR_ID, **body: Any) -> dict[str, Any]:
    client = sandbox_client(sandbox)
    response = client.post(f"/safepay/v1/aggregators/{aggregator}/webhooks",
                           headers={"X-SFPY-AGGREGATOR-SECRET-KEY": SANDBOX_SECRET_KEY},
                           json={"url": URL, "event_types": ["payment.completed"], **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_adopt_without_changes_writes_nothing(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    made = _make_remote(sandbox)
    mark = len(sandbox.journal)
    adopted = provider.create(checked(provider, webhook_id=made["endpoint"]["token"], rotation="r"))
    assert adopted.id == made["endpoint"]["token"]
    assert outs(adopted)["secret"] == made["secret"]  # Safepay's reads return it
    assert outs(adopted)["secret_version"] == 1  # adopting with a rotation does not rotate
    assert [e["method"] for e in sandbox.journal[mark:]] == ["GET"]
    assert len(sandbox.apps["safepay"].data["endpoints"]) == 1


def test_adopt_in_the_declared_aggregator_takes_it_as_it_is(
    sandbox: Sandbox, provider: RaastWebhookProvider
) -> None:
    made = _make_remote(sandbox, SANDBOX_SECOND_AGGREGATOR_ID, description="legacy")
    id_ = made["endpoint"]["token"]
    with pytest.raises(AdoptionError, match="description: live 'legacy', declared 'adopted'"):
        provider.create(checked(provider, webhook_id=id_, aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID,
                                description="adopted"))
    _lifecycle.reset_claims()
    adopted = provider.create(checked(provider, webhook_id=id_, aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID,
                                      description="legacy", rotation="r"))
    assert remote(sandbox, id_)["secret_version"] == 1  # a first rotation value is not a rotation
    assert outs(adopted)["effective_aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID
    assert [m for m, _ in writes(sandbox)] == ["POST"]  # only the webhook's own making


def test_adopt_a_missing_webhook_fails(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    with pytest.raises(NotFoundError, match="wh_missing"):
        provider.create(checked(provider, webhook_id="wh_missing"))


def test_lost_create_answer_finds_what_was_made(sandbox: Sandbox, provider: RaastWebhookProvider) -> None:
    _make_remote(sandbox, url="https://hooks.example.com/someone-else")
    sandbox.faults.append(Fault(provider="safepay", method="POST", status=503, after_commit=True, count=1))
    result = provider.create(checked(provider, description="lost"))
    endpoints = sandbox.apps["safepay"].data["endpoints"]
    assert len(endpoints) == 2
    assert outs(result)["secret"] == remote(sandbox, result.id)["secret"]
    assert remote(sandbox, result.id)["description"] == "lost"


def test_lost_create_answer_without_listed_secret_rotates(
    sandbox: Sandbox, provider: RaastWebhookProvider
) -> None:
    sandbox.faults.append(Fault(provider="safepay", method="POST", status=503, after_commit=True, count=1))
    with _http.use_clients(_http.Clients(_NoSecrets(sandbox))):
        result = provider.create(checked(provider))
    assert outs(result)["secret"] == remote(sandbox, result.id)["secret"]
    assert outs(result)["secret_version"] == 2


def test_api_list_pages_through_the_configured_aggregator(
    sandbox: Sandbox, provider: RaastWebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safepay, "PAGE_SIZE", 2)
    made = [_make_remote(sandbox, url=f"{URL}/{i}")["endpoint"]["token"] for i in range(5)]
    _make_remote(sandbox, SANDBOX_SECOND_AGGREGATOR_ID)
    assert sorted(provider.api_list(provider._args(checked(provider)))) == sorted(made)
    assert len([e for e in sandbox.journal if e["method"] == "GET"]) == 3
    _config.set_stack_config({k: v for k, v in sandbox.stack_config().items() if k != "safepay:aggregatorId"})
    second = provider._args(checked(provider, aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID))
    assert len(provider.api_list(second) or []) == 1  # each create lists the aggregator it names


def test_api_matches_same_declaration_oldest_first_in_its_aggregator(
    sandbox: Sandbox, provider: RaastWebhookProvider
) -> None:
    before = _make_remote(sandbox, description="d")["endpoint"]["token"]
    first = _make_remote(sandbox, description="d")["endpoint"]["token"]
    _make_remote(sandbox, description="other")
    _make_remote(sandbox, url=f"{URL}/other", description="d")
    _make_remote(sandbox, SANDBOX_SECOND_AGGREGATOR_ID, description="d")
    second = _make_remote(sandbox, description="d")["endpoint"]["token"]
    found = provider.api_matches(provider._args(checked(provider, description="d")))
    # What was held before a create is left out by the lifecycle, which keeps that list.
    assert [id_ for id_, _ in found] == [before, first, second]
    id_, live = found[1]
    assert live["secret"] == remote(sandbox, id_)["secret"]
    assert live["effective_aggregator_id"] == SANDBOX_AGGREGATOR_ID


def test_lost_create_in_a_declared_aggregator_takes_only_what_it_made(
    sandbox: Sandbox, provider: RaastWebhookProvider
) -> None:
    # The configured aggregator's snapshot does not cover another aggregator: its own does.
    held = _make_remote(sandbox, SANDBOX_SECOND_AGGREGATOR_ID, description="lost")["endpoint"]["token"]
    mark = len(sandbox.journal)
    sandbox.faults.append(Fault(provider="safepay", method="POST", status=503, after_commit=True, count=1))
    result = provider.create(checked(provider, description="lost", aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID))
    assert result.id != held
    posts = [e for e in sandbox.journal[mark:] if e["method"] == "POST"]
    assert len(posts) == 1, "the create was sent again"
    assert len(sandbox.apps["safepay"].data["endpoints"]) == 2
    assert outs(result)["secret"] == remote(sandbox, result.id)["secret"]
    assert outs(result)["effective_aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID


def test_list_webhooks_pages_and_hides_secrets(
    sandbox: Sandbox, provider: RaastWebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safepay, "PAGE_SIZE", 2)
    made = [_make_remote(sandbox, url=f"{URL}/{i}")["endpoint"]["token"] for i in range(5)]
    _make_remote(sandbox, SANDBOX_SECOND_AGGREGATOR_ID)
    found = safepay.list_webhooks()
    assert [id_ for id_, _ in found] == made
    for _, props in found:
        assert "secret" not in props
        assert props["aggregator_id"] == SANDBOX_AGGREGATOR_ID
        assert props["event_types"] == ["payment.completed"]
    listed = [e for e in sandbox.journal if e["method"] == "GET"]
    assert len(listed) == 3
    secrets = [e["secret"] for e in sandbox.apps["safepay"].webhooks()]
    assert not any(s in json.dumps(found) for s in secrets)


def test_invalid_arguments_raise_input_error_on_create(provider: RaastWebhookProvider) -> None:
    with pytest.raises(InputError) as failed:
        provider.create({"url": "http://x.example", "event_types": ["payment.completed"]})
    assert failed.value.field == "url"
