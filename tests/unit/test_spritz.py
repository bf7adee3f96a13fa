"""Spritz Finance: check, diff, errors, request signing and the lifecycle against the sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dill
import httpx
import pytest
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult
from pulumi.dynamic.dynamic import serialize_provider

from pulumi_webhooks import _config, _http, _lifecycle, spritz, verify
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
from pulumi_webhooks.sandbox import Fault, Sandbox
from pulumi_webhooks.sandbox.spritz import API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET, SpritzApp
from pulumi_webhooks.spritz import (
    IntegratorWebhook,
    IntegratorWebhookProvider,
    SpritzAuth,
    WebhookSecret,
    WebhookSecretProvider,
)

from ..helpers import FakeClock, failures_by_field

URL = "https://hooks.example.com/spritz"
#: Where the in-process sandbox serves Spritz: the ``base_url`` output of what is made there.
BASE_URL = "http://sandbox.invalid/spritz"
#: The official SDK's golden vectors (spritz-finance/api-client, src/lib/hmac.test.ts, "computed using
#: the platform's Node crypto implementation"): secret, timestamp, then method, URL, body, X-Signature.
GOLDEN_SECRET = "test-secret-key-12345"
GOLDEN_TS = 1700000000000
GOLDEN = [
    ("GET", "https://platform.spritz.finance/v1/users/me", b"",
     "sha256=147ecf7209d3d91ca62d3cc190473954120d305b85c007b50976d4fe88551c52"),
    ("POST", "https://platform.spritz.finance/v1/transactions", b'{"amount":100}',
     "sha256=12dcf2a7647146ce08a465349ab03f992d8a18542cd576d40a9eb8e2958d4b9f"),
    ("GET", "https://platform.spritz.finance/v1/on-ramps?token=USDC&limit=20&network=ethereum", b"",
     "sha256=77cc4cdebcc5256d682fb3974346c15e84b289f6a4bb454adaa7f9495d3bbc55"),
]


@pytest.fixture
def hooks() -> IntegratorWebhookProvider:
    return IntegratorWebhookProvider()


@pytest.fixture
def secret_provider() -> WebhookSecretProvider:
    return WebhookSecretProvider()


def outs(result: CreateResult | ReadResult | UpdateResult) -> dict[str, Any]:
    assert result.outs is not None
    return result.outs


def failures(result: Any) -> dict[str, str]:
    return failures_by_field(result.failures)


# -- check -------------------------------------------------------------------------------------


def test_check_normalises_events_and_fills_defaults(hooks: IntegratorWebhookProvider) -> None:
    result = hooks.check({}, {"url": f" {URL} ", "events": ["payment.completed", "account.created",
                                                           "payment.completed"], PROVIDER_KEY: "p"})
    assert result.failures == []
    assert result.inputs["url"] == URL
    assert result.inputs["events"] == ["account.created", "payment.completed"]
    assert result.inputs["webhook_id"] is None
    defaults = hooks.check({}, {"url": URL})
    assert defaults.failures == [] and defaults.inputs["events"] == []


@pytest.mark.parametrize("event", spritz.EVENTS)
def test_every_documented_event_is_accepted(hooks: IntegratorWebhookProvider, event: str) -> None:
    assert hooks.check({}, {"url": URL, "events": [event]}).failures == []


def test_newer_spec_events_and_the_wildcard_are_known() -> None:
    for event in ("onramp.created", "onramp.updated", "onramp.completed", "achDebitReturn.created",
                  "achDebitReturn.updated", "*", "verification.status.updated", "capabilities.updated"):
        assert event in spritz.EVENTS
    assert len(spritz.EVENTS) == 15


@pytest.mark.parametrize(
    ("news", "field", "rule"),
    [
        ({}, "url", "is required"),
        ({"url": "ftp://hooks.example.com"}, "url", "https:// or http://"),
        ({"url": "https://"}, "url", "with a host"),
        ({"url": "https://hooks.example.com/a b"}, "url", "white space"),
        ({"url": URL, "events": ["payment.complete"]}, "events", "did you mean 'payment.completed'"),
        ({"url": URL, "events": ["onramp.create"]}, "events", "did you mean 'onramp.created'"),
        ({"url": URL, "events": ["refund.created"]}, "events", "unknown event 'refund.created'"),
        ({"url": URL, "events": "payment.completed"}, "events", "list of event names"),
        ({"url": URL, "events": ["*", "payment.created"]}, "events", "'*' subscribes to every event"),
        ({"url": URL, "webhook_id": ""}, "webhook_id", "must not be empty"),
        ({"url": URL, "apiKey": API_KEY}, "apiKey", "is not an argument of this resource"),
        ({"url": URL, "secret": "s3cret"}, "secret", "is not an argument of this resource"),
    ],
)
def test_check_names_the_field_and_the_rule(
    hooks: IntegratorWebhookProvider, news: dict[str, Any], field: str, rule: str
) -> None:
    found = failures(hooks.check({}, news))
    assert field in found, found
    assert rule in found[field]


def test_did_you_mean_lists_the_documented_events(hooks: IntegratorWebhookProvider) -> None:
    reason = failures(hooks.check({}, {"url": URL, "events": ["paymnet.refunded"]}))["events"]
    assert "did you mean 'payment.refunded'" in reason
    assert "achDebitReturn.updated" in reason


def test_unknown_values_pass_check(hooks: IntegratorWebhookProvider, secret_provider: WebhookSecretProvider) -> None:
    result = hooks.check({}, {"url": UNKNOWN, "events": [UNKNOWN, "payment.completed"], "webhook_id": UNKNOWN})
    assert result.failures == []
    assert result.inputs["url"] == UNKNOWN and result.inputs["webhook_id"] == UNKNOWN
    assert secret_provider.check({}, {"secret": UNKNOWN}).failures == []


@pytest.mark.parametrize(
    ("value", "rule"),
    [(None, "is required"), ("", "must not be empty"), ("  ", "must not be empty"),
     ("secret-01\n", "white space"), (42, "valid string")],
)
def test_webhook_secret_rules(secret_provider: WebhookSecretProvider, value: Any, rule: str) -> None:
    news = {} if value is None else {"secret": value}
    assert rule in failures(secret_provider.check({}, news))["secret"]


def test_webhook_secret_accepts_a_secret(secret_provider: WebhookSecretProvider) -> None:
    result = secret_provider.check({}, {"secret": "whsec-spritz-01", PROVIDER_KEY: "p"})
    assert result.failures == [] and result.inputs["secret"] == "whsec-spritz-01"


def test_create_refuses_bad_input_before_any_call(hooks: IntegratorWebhookProvider, sandbox: Sandbox) -> None:
    with pytest.raises(InputError) as raised:
        hooks.create({"url": URL, "events": ["payment.done"]})
    assert raised.value.field == "events"
    assert sandbox.journal == []


# -- diff ----------------------------------------------------------------------------------------

OLDS = {"url": URL, "events": ["account.created", "payment.completed"], "webhook_id": "wh_1",
        "failure_count": 0, "disabled": False, PROVIDER_KEY: "old"}


def test_order_and_duplicates_never_make_a_diff(hooks: IntegratorWebhookProvider) -> None:
    news = {"url": URL, "events": ["payment.completed", "account.created", "payment.completed"],
            PROVIDER_KEY: "new"}
    assert hooks.diff("wh_1", OLDS, news).changes is False


def test_events_change_in_place(hooks: IntegratorWebhookProvider) -> None:
    result = hooks.diff("wh_1", OLDS, {"url": URL, "events": ["*"]})
    assert result.changes is True and result.replaces == []
    assert result.stables == ["webhook_id"]


def test_url_change_replaces(hooks: IntegratorWebhookProvider) -> None:
    result = hooks.diff("wh_1", OLDS, {"url": "https://other.example.com/x", "events": OLDS["events"]})
    assert result.changes is True and result.replaces == ["url"]
    unknown = hooks.diff("wh_1", OLDS, {"url": UNKNOWN, "events": OLDS["events"]})
    assert unknown.changes is True and unknown.replaces == ["url"]
    unknown_events = hooks.diff("wh_1", OLDS, {"url": URL, "events": [UNKNOWN]})
    assert unknown_events.changes is True and unknown_events.replaces == []


def test_a_disabled_webhook_is_replaced(hooks: IntegratorWebhookProvider) -> None:
    disabled = {**OLDS, "disabled": True, "failure_count": 12}
    same = hooks.diff("wh_1", disabled, {"url": URL, "events": OLDS["events"]})
    assert same.changes is True and same.replaces == ["disabled"]
    moved = hooks.diff("wh_1", disabled, {"url": "https://other.example.com/x", "events": []})
    assert moved.replaces == ["disabled", "url"]
    # The failure count alone is server state, never a change.
    counting = hooks.diff("wh_1", {**OLDS, "failure_count": 3}, {"url": URL, "events": OLDS["events"]})
    assert counting.changes is False


def test_adoption_id_only_replaces_when_it_names_another_webhook(hooks: IntegratorWebhookProvider) -> None:
    assert hooks.diff("wh_1", OLDS, {"url": URL, "events": OLDS["events"], "webhook_id": "wh_1"}).changes is False
    other = hooks.diff("wh_1", OLDS, {"url": URL, "events": OLDS["events"], "webhook_id": "wh_2"})
    assert other.replaces == ["webhook_id"]


def test_secret_changes_in_place(secret_provider: WebhookSecretProvider) -> None:
    olds = {"secret": "first-secret", PROVIDER_KEY: "p"}
    assert secret_provider.diff("webhook-secret", olds, {"secret": "first-secret"}).changes is False
    changed = secret_provider.diff("webhook-secret", olds, {"secret": "second-secret"})
    assert changed.changes is True and changed.replaces == []


def test_credentials_are_not_inputs_and_never_make_a_diff(hooks: IntegratorWebhookProvider) -> None:
    news = {"url": URL, "events": OLDS["events"]}
    _config.set_stack_config({"spritz:apiKey": "key-one", "spritz:integratorKey": "int_one"})
    first = hooks.diff("wh_1", OLDS, news)
    _config.set_stack_config({"spritz:apiKey": "key-two", "spritz:integratorKey": "int_two"})
    second = hooks.diff("wh_1", OLDS, news)
    assert first.changes is False and second.changes is False


def test_providers_pickle_by_reference_without_state(sandbox: Sandbox) -> None:
    for provider in (IntegratorWebhookProvider(), WebhookSecretProvider()):
        provider.check({}, {"url": URL, "secret": "abc-secret"})
        assert vars(provider) == {}
        pickled = serialize_provider(provider)
        raw = base64.b64decode(pickled)
        assert b"pulumi_webhooks.spritz" in raw
        for value in (API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET):
            assert value.encode() not in raw
        assert type(dill.loads(raw)) is type(provider)


def test_resources_declare_outputs_and_secrets() -> None:
    assert IntegratorWebhook._provider_class is IntegratorWebhookProvider
    assert WebhookSecret._provider_class is WebhookSecretProvider
    assert IntegratorWebhookProvider.outputs == ("webhook_id", "failure_count", "disabled")
    assert IntegratorWebhookProvider.replace_on == frozenset({"url"})
    assert WebhookSecretProvider.secret_properties == ("secret",)
    assert WebhookSecretProvider.write_only == frozenset({"secret"})
    assert WebhookSecretProvider.adopt_argument is None and WebhookSecretProvider.id_output is None
    for name in ("url", "events", "webhook_id", "failure_count", "disabled"):
        assert name in IntegratorWebhook.__annotations__


# -- connection ------------------------------------------------------------------------------


@pytest.mark.usefixtures("unconfigured")
def test_connection_reads_config_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert spritz.CONNECTION.resolve().base_url == "https://platform.spritz.finance"
    monkeypatch.setenv("SPRITZ_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("SPRITZ_API_KEY", "env-key")
    resolved = spritz.CONNECTION.resolve()
    assert resolved.base_url == "https://sandbox.spritz.finance"
    assert resolved.get("apiKey") == "env-key"
    _config.set_stack_config({"spritz:apiKey": "config-key", "spritz:baseUrl": "http://127.0.0.1:9/spritz/"})
    resolved = spritz.CONNECTION.resolve()
    assert resolved.get("apiKey") == "config-key"
    assert resolved.base_url == "http://127.0.0.1:9/spritz"
    assert {s.key for s in spritz.CONNECTION.settings if s.secret} == {"apiKey", "integratorKey", "integratorSecret"}
    assert "config-key" not in repr(resolved)


@pytest.mark.usefixtures("unconfigured")
def test_missing_credentials_name_the_setting(hooks: IntegratorWebhookProvider) -> None:
    _config.set_stack_config({"spritz:integratorKey": "int_x"})
    with pytest.raises(ConfigurationError) as raised:
        hooks.api_read("wh_1", {})
    assert "spritz:apiKey" in str(raised.value) and "SPRITZ_API_KEY" in str(raised.value)
    _config.set_stack_config({"spritz:apiKey": "k-123"})
    with pytest.raises(ConfigurationError, match="spritz:integratorKey"):
        hooks.api_read("wh_1", {})


# -- signing and errors with a mock transport -----------------------------------------------


Responder = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def mock_api(clock: FakeClock) -> Iterator[Callable[..., list[httpx.Request]]]:
    """``mock_api(responder, secret=True)``: route Spritz calls to ``responder`` (retries pausing on
    ``clock``); returns the requests seen."""
    contexts: list[Any] = []

    def install(responder: Responder, *, secret: bool = True,
                base_url: str | None = "https://gateway.example.com/prefix/spritz",
                environment: str | None = None) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            request.read()
            seen.append(request)
            return responder(request)

        ctx = _http.use_clients(_http.Clients(httpx.MockTransport(handler), clock))
        ctx.__enter__()
        contexts.append(ctx)
        config = {"spritz:apiKey": "api-key-123", "spritz:integratorKey": "int_key_123"}
        if base_url is not None:
            config["spritz:baseUrl"] = base_url
        if environment is not None:
            config["spritz:environment"] = environment
        if secret:
            config["spritz:integratorSecret"] = "integrator-secret-123"
        _config.set_stack_config(config)
        return seen

    yield install
    for ctx in reversed(contexts):
        ctx.__exit__(None, None, None)


def problem(status: int, title: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"type": "about:blank", "title": title, "status": status, **extra},
                          headers={"Content-Type": "application/problem+json"})


def test_signed_requests_match_the_documented_scheme(mock_api: Callable[..., list[httpx.Request]],
                                                     hooks: IntegratorWebhookProvider) -> None:
    created = {"id": "wh_abc", "url": URL, "events": ["payment.completed"], "failureCount": 0, "disabled": False}
    seen = mock_api(lambda r: httpx.Response(200, json=created if r.method == "POST" else [created]))
    before = int(time.time() * 1000)
    hooks.api_create(spritz.IntegratorWebhookArgs(url=URL, events=["payment.completed"]))
    hooks.api_read("wh_abc", {})
    post, get = seen
    assert str(post.url) == "https://gateway.example.com/prefix/spritz/v1/integrator/webhooks"
    for request in seen:
        assert request.headers["Authorization"] == "Bearer api-key-123"
        assert request.headers["X-Integrator-Key"] == "int_key_123"
        assert "X-INTEGRATION-KEY" not in request.headers
        ts = request.headers["X-Timestamp"]
        assert before - 1000 <= int(ts) <= int(time.time() * 1000) + 1000
    # Computed here independently of the module: the path is the URL's pathname, prefix included.
    body = post.content
    assert json.loads(body) == {"events": ["payment.completed"], "url": URL}
    ts = post.headers["X-Timestamp"]
    path = "/prefix/spritz/v1/integrator/webhooks"
    message = f"{ts}.POST.{path}.{hashlib.sha256(body).hexdigest()}".encode()
    expected = hmac.new(b"integrator-secret-123", message, hashlib.sha256).hexdigest()
    assert post.headers["X-Signature"] == f"sha256={expected}"
    # No body: the empty string stands in for the body hash.
    assert get.content == b""
    ts = get.headers["X-Timestamp"]
    message = f"{ts}.GET.{path}.".encode()
    expected = hmac.new(b"integrator-secret-123", message, hashlib.sha256).hexdigest()
    assert get.headers["X-Signature"] == f"sha256={expected}"


@pytest.mark.parametrize(("method", "url", "body", "signature"), GOLDEN)
def test_request_signatures_match_the_sdk_golden_vectors(
    monkeypatch: pytest.MonkeyPatch, method: str, url: str, body: bytes, signature: str
) -> None:
    _config.set_stack_config({"spritz:apiKey": "k-1234", "spritz:integratorKey": "int_abc123",
                              "spritz:integratorSecret": GOLDEN_SECRET})
    auth = SpritzAuth(spritz.CONNECTION.resolve())
    monkeypatch.setattr(time, "time", lambda: GOLDEN_TS / 1000)
    request = httpx.Request(method, url, content=body or None)
    auth.apply(_http.ApiClient(spritz.CONNECTION.resolve(), spritz.SpritzDialect()), request)
    assert request.headers["X-Timestamp"] == str(GOLDEN_TS)
    assert request.headers["X-Signature"] == signature
    assert request.headers["X-Integrator-Key"] == "int_abc123"


def test_no_body_signs_the_empty_string_not_its_hash() -> None:
    # The SDK's "GET /v1/users/me" vector, and what the hash of the empty body would have given.
    assert spritz.request_signature(GOLDEN_SECRET, str(GOLDEN_TS), "get", "/v1/users/me", b"") == GOLDEN[0][3]
    empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    wrong = hmac.new(GOLDEN_SECRET.encode(), f"{GOLDEN_TS}.GET./v1/users/me.{empty_sha256}".encode(),
                     hashlib.sha256).hexdigest()
    assert GOLDEN[0][3] != f"sha256={wrong}"


@pytest.mark.parametrize(
    ("url", "signed"),
    [
        # The pathname, base-URL prefix and all (the SDK signs new URL(url).pathname).
        ("https://h.example/base/v1/integrator/webhooks", "/base/v1/integrator/webhooks"),
        ("https://h.example/v1/x?b=2&a=1", "/v1/x?a=1&b=2"),
        # Equal keys keep their order: the sort is by key only.
        ("https://h.example/v1/x?b=2&a=1&a=0", "/v1/x?a=1&a=0&b=2"),
        # From the SDK's tests: "+" is a space, written %20; an encoded "&" stays encoded.
        ("https://h.example/v1/test?filter=a+b&query=hello%26world", "/v1/test?filter=a%20b&query=hello%26world"),
        ("https://h.example/v1/test?key=", "/v1/test?key="),
        ("https://h.example/v1/test?key", "/v1/test?key="),
        # encodeURIComponent: !*'()~-_. stay; "/", ":", "=", "@", "," are escaped; UTF-8, upper-case hex.
        ("https://h.example/v1/x?q=%21%2A%27%28%29~-_.", "/v1/x?q=!*'()~-_."),
        ("https://h.example/v1/x?q=a/b:c=d@e,f", "/v1/x?q=a%2Fb%3Ac%3Dd%40e%2Cf"),
        ("https://h.example/v1/x?q=%c3%a9%e2%82%ac", "/v1/x?q=%C3%A9%E2%82%AC"),
        ("https://h.example/v1/x?%C3%A9=1&z=2&A=3", "/v1/x?A=3&z=2&%C3%A9=1"),
    ],
)
def test_the_signed_path_is_the_pathname_with_a_canonical_query(url: str, signed: str) -> None:
    assert spritz.signed_path(httpx.URL(url)) == signed


def test_auth_is_signed_only_with_a_secret_and_never_renews() -> None:
    _config.set_stack_config({"spritz:apiKey": "k-1234", "spritz:integratorKey": "int_1",
                              "spritz:integratorSecret": "s-1234"})
    auth = SpritzAuth(spritz.CONNECTION.resolve())
    assert auth.signed is True and auth.renew(httpx.Request("GET", "https://h.example/base/v1/x")) is False
    for unset in ({}, {"spritz:integratorSecret": ""}):  # no secret, or an empty one: legacy headers
        _config.set_stack_config({"spritz:apiKey": "k-1234", "spritz:integratorKey": "int_1", **unset})
        legacy = SpritzAuth(spritz.CONNECTION.resolve())
        assert legacy.signed is False, unset
        assert legacy.renew(httpx.Request("GET", "https://h.example/base/v1/x")) is False


def test_legacy_headers_without_an_integrator_secret(mock_api: Callable[..., list[httpx.Request]],
                                                     hooks: IntegratorWebhookProvider) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json=[]), secret=False)
    assert hooks.api_read("wh_abc", {}) is None
    (request,) = seen
    assert request.headers["Authorization"] == "Bearer api-key-123"
    assert request.headers["X-INTEGRATION-KEY"] == "int_key_123"
    for header in ("X-Signature", "X-Timestamp", "X-Integrator-Key"):
        assert header not in request.headers


def test_a_401_problem_maps_to_authentication_error_without_retry(
    mock_api: Callable[..., list[httpx.Request]], hooks: IntegratorWebhookProvider
) -> None:
    seen = mock_api(lambda r: problem(401, "Unauthorized", detail="key api-key-123 is revoked",
                                      realm="spritz-integrator", scope="integrator:webhooks"))
    with pytest.raises(AuthenticationError) as raised:
        hooks.api_read("wh_1", {})
    error = raised.value
    assert (error.provider, error.operation, error.status, error.code) == ("Spritz", "list webhooks", 401,
                                                                          "Unauthorized")
    assert error.message is not None
    assert "api-key-123" not in str(error) and "***" in error.message
    assert "scope integrator:webhooks" in error.message and "realm spritz-integrator" in error.message
    assert "spritz:apiKey" in error.message  # the hint names the settings, never their values
    assert len(seen) == 1


def test_problem_details_map_to_api_errors(mock_api: Callable[..., list[httpx.Request]],
                                           hooks: IntegratorWebhookProvider) -> None:
    mock_api(lambda r: problem(400, "Bad Request", type="https://docs.spritz.finance/problems/validation",
                               detail="url: must be a URI", instance="/v1/integrator/webhooks"))
    with pytest.raises(ApiError) as raised:
        hooks.api_create(spritz.IntegratorWebhookArgs(url=URL))
    error = raised.value
    assert type(error) is RejectedError
    assert error.operation == "create webhook" and error.status == 400
    assert error.code == "https://docs.spritz.finance/problems/validation"
    assert error.message == "url: must be a URI"
    assert str(error).startswith("Spritz: create webhook failed (HTTP 400")


def test_a_404_problem_names_the_resource(mock_api: Callable[..., list[httpx.Request]],
                                          hooks: IntegratorWebhookProvider) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json=[]) if r.method == "GET" else
                    problem(404, "Not Found", detail="no such webhook", resourceType="webhook", resourceId="wh_9"))
    with pytest.raises(NotFoundError) as raised:
        hooks.api_delete("wh_9", {})
    assert raised.value.message == "no such webhook (resource webhook, id wh_9)"
    hooks.delete("wh_9", {"url": URL})  # already gone (the list confirms it) is success
    assert [r.method for r in seen] == ["DELETE", "DELETE", "GET"]


def test_a_404_of_the_list_itself_means_the_wrong_base_url(
    mock_api: Callable[..., list[httpx.Request]], hooks: IntegratorWebhookProvider
) -> None:
    mock_api(lambda r: problem(404, "Not Found", detail="no route", resourceType="endpoint"))
    with pytest.raises(ConfigurationError, match="spritz:baseUrl"):
        hooks.read("wh_9", {"url": URL, "base_url": "https://gateway.example.com/prefix/spritz"})


def test_server_errors_are_transient_and_a_lost_create_looks_before_retrying(
    mock_api: Callable[..., list[httpx.Request]], hooks: IntegratorWebhookProvider
) -> None:
    made = {"id": "wh_lost", "url": URL, "events": [], "failureCount": 0, "disabled": False}
    answers = iter([httpx.Response(200, json=[]), httpx.Response(502, text="bad gateway"),
                    httpx.Response(200, json=[made])])
    seen = mock_api(lambda r: next(answers))
    created = hooks.create({"url": URL, "events": []})
    assert created.id == "wh_lost"
    # The list before the first create, the create, then the list that finds what it made.
    assert [r.method for r in seen] == ["GET", "POST", "GET"]


def test_non_json_errors_keep_the_status(mock_api: Callable[..., list[httpx.Request]],
                                         hooks: IntegratorWebhookProvider) -> None:
    mock_api(lambda r: httpx.Response(418, text="teapot"))
    with pytest.raises(ApiError) as raised:
        hooks.api_read("wh_1", {})
    assert raised.value.status == 418 and raised.value.code is None


def test_the_webhook_secret_is_redacted_from_errors(mock_api: Callable[..., list[httpx.Request]],
                                                    secret_provider: WebhookSecretProvider) -> None:
    mock_api(lambda r: problem(400, "Bad Request", detail="secret 'my-signing-secret' is too weak"))
    with pytest.raises(ApiError) as raised:
        secret_provider.create({"secret": "my-signing-secret"})
    assert "my-signing-secret" not in str(raised.value)
    assert raised.value.operation == "set webhook secret"


def test_unexpected_answers_are_errors(mock_api: Callable[..., list[httpx.Request]],
                                       hooks: IntegratorWebhookProvider) -> None:
    mock_api(lambda r: httpx.Response(200, json={"webhooks": []}))
    with pytest.raises(ApiError, match="expected a list"):
        hooks.api_read("wh_1", {})


def test_the_problem_code_field_and_resource_are_surfaced(mock_api: Callable[..., list[httpx.Request]],
                                                         hooks: IntegratorWebhookProvider) -> None:
    mock_api(lambda r: problem(400, "Bad Request", type="https://docs.spritz.finance/problems/validation",
                               code="INVALID_WEBHOOK_URL", field="url", detail="must be a public https URL",
                               retryable=False))
    with pytest.raises(ApiError) as raised:
        hooks.api_create(spritz.IntegratorWebhookArgs(url=URL))
    error = raised.value
    assert type(error) is RejectedError and error.status == 400
    assert error.code == "INVALID_WEBHOOK_URL"  # the stable code wins over the type
    assert error.message == "must be a public https URL (field url)"
    assert "INVALID_WEBHOOK_URL: must be a public https URL (field url)" in str(error)


def test_not_retryable_wins_over_a_transient_status(mock_api: Callable[..., list[httpx.Request]],
                                                    hooks: IntegratorWebhookProvider) -> None:
    seen = mock_api(lambda r: problem(503, "Service Unavailable", code="ACCOUNT_SUSPENDED",
                                      detail="integrator suspended", retryable=False))
    with pytest.raises(ApiError) as raised:
        hooks.api_read("wh_1", {})
    assert type(raised.value) is ApiError and raised.value.code == "ACCOUNT_SUSPENDED"
    assert len(seen) == 1


def test_retryable_makes_any_status_worth_another_try(mock_api: Callable[..., list[httpx.Request]],
                                                      hooks: IntegratorWebhookProvider, clock: FakeClock) -> None:
    live = {"id": "wh_1", "url": URL, "events": [], "failureCount": 0, "disabled": False}
    answers = iter([problem(409, "Conflict", code="LOCKED", detail="account busy", retryable=True),
                    httpx.Response(200, json=[live])])
    seen = mock_api(lambda r: next(answers))
    assert hooks.api_read("wh_1", {}) == {"url": URL, "events": [], "failure_count": 0, "disabled": False}
    assert len(seen) == 2
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= _http.RetryPolicy.base_delay  # one backoff, then the retry


def test_a_retryable_conflict_on_create_is_maybe_committed(mock_api: Callable[..., list[httpx.Request]],
                                                           hooks: IntegratorWebhookProvider) -> None:
    mock_api(lambda r: problem(409, "Conflict", code="LOCKED", retryable=True))
    with pytest.raises(TransientError) as raised:
        hooks.api_create(spritz.IntegratorWebhookArgs(url=URL))
    assert raised.value.maybe_committed is True and raised.value.code == "LOCKED"


def test_retryable_that_is_not_a_boolean_leaves_the_status_to_decide(
    mock_api: Callable[..., list[httpx.Request]], hooks: IntegratorWebhookProvider
) -> None:
    seen = mock_api(lambda r: problem(400, "Bad Request", detail="nope", retryable="yes"))
    with pytest.raises(ApiError) as raised:
        hooks.api_read("wh_1", {})
    assert type(raised.value) is RejectedError and len(seen) == 1


SECRET_OK = {"secretConfigured": True}


def test_the_secret_is_posted_first_and_put_after_a_405(mock_api: Callable[..., list[httpx.Request]],
                                                        secret_provider: WebhookSecretProvider) -> None:
    seen = mock_api(lambda r: problem(405, "Method Not Allowed") if r.method == "POST"
                    else httpx.Response(200, json=SECRET_OK))
    secret_provider.create({"secret": "signing-secret-1"})
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/prefix/spritz/v1/integrator/webhook-secret"),
                                                      ("PUT", "/prefix/spritz/v1/integrator/webhook-secret")]
    assert all(json.loads(r.content) == {"secret": "signing-secret-1"} for r in seen)


@pytest.mark.usefixtures("unconfigured")
def test_production_takes_post_in_one_call(mock_api: Callable[..., list[httpx.Request]],
                                           secret_provider: WebhookSecretProvider) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json=SECRET_OK), base_url=None)
    created = secret_provider.create({"secret": "signing-secret-1"})
    assert [str(r.url) for r in seen] == ["https://platform.spritz.finance/v1/integrator/webhook-secret"]
    assert seen[0].method == "POST"
    assert outs(created)["base_url"] == "https://platform.spritz.finance"


@pytest.mark.usefixtures("unconfigured")
def test_the_sandbox_host_takes_put_first_and_post_after_a_404(mock_api: Callable[..., list[httpx.Request]],
                                                               secret_provider: WebhookSecretProvider) -> None:
    seen = mock_api(lambda r: problem(404, "Not Found", detail="no route") if r.method == "PUT"
                    else httpx.Response(200, json=SECRET_OK), base_url=None, environment="sandbox")
    secret_provider.create({"secret": "signing-secret-1"})
    assert [(r.method, str(r.url)) for r in seen] == [
        ("PUT", "https://sandbox.spritz.finance/v1/integrator/webhook-secret"),
        ("POST", "https://sandbox.spritz.finance/v1/integrator/webhook-secret"),
    ]


def test_neither_verb_accepted_names_both(mock_api: Callable[..., list[httpx.Request]],
                                          secret_provider: WebhookSecretProvider) -> None:
    mock_api(lambda r: problem(405, "Method Not Allowed"))
    with pytest.raises(ApiError) as raised:
        secret_provider.create({"secret": "signing-secret-1"})
    assert raised.value.status == 405
    assert "neither POST nor PUT /v1/integrator/webhook-secret is accepted" in str(raised.value)


def test_other_secret_errors_do_not_try_the_other_verb(mock_api: Callable[..., list[httpx.Request]],
                                                       secret_provider: WebhookSecretProvider) -> None:
    seen = mock_api(lambda r: problem(400, "Bad Request", field="secret", detail="too short"))
    with pytest.raises(ApiError, match=r"too short \(field secret\)"):
        secret_provider.create({"secret": "signing-secret-1"})
    assert len(seen) == 1


def test_an_unconfirmed_secret_is_an_error(mock_api: Callable[..., list[httpx.Request]],
                                           secret_provider: WebhookSecretProvider) -> None:
    mock_api(lambda r: httpx.Response(200, json={"secretConfigured": False}))
    with pytest.raises(ApiError, match="secretConfigured is false"):
        secret_provider.create({"secret": "signing-secret-1"})


def test_secret_verbs_by_host() -> None:
    assert spritz.secret_verbs("https://sandbox.spritz.finance") == ("PUT", "POST")
    assert spritz.secret_verbs("https://platform.spritz.finance") == ("POST", "PUT")
    assert spritz.secret_verbs("http://127.0.0.1:8787/spritz") == ("POST", "PUT")


# -- lifecycle against the in-process sandbox -------------------------------------------------


def spritz_calls(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [(e["method"], e["path"].removeprefix("/spritz")) for e in sandbox.journal if e["provider"] == "spritz"]


def test_create_read_update_delete(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    created = hooks.create({"url": URL, "events": ["payment.completed"], PROVIDER_KEY: "p"})
    assert created.id.startswith("wh_")
    assert outs(created) == {"url": URL, "events": ["payment.completed"], "webhook_id": created.id,
                            "failure_count": 0, "disabled": False, "base_url": BASE_URL}
    read = hooks.read(created.id, {**outs(created), PROVIDER_KEY: "p"})
    assert read.id == created.id and outs(read) == outs(created)
    assert read.inputs == {"url": URL, "events": ["payment.completed"]}

    updated = hooks.update(created.id, outs(created), {"url": URL, "events": ["*"]})
    assert outs(updated) == {**outs(created), "events": ["*"]}
    assert sandbox.apps["spritz"].webhooks()[0]["events"] == ["*"]

    hooks.delete(created.id, outs(updated))
    assert sandbox.apps["spritz"].webhooks() == []
    assert hooks.read(created.id, outs(updated)).id == ""
    hooks.delete(created.id, outs(updated))  # already gone: success
    assert spritz_calls(sandbox) == [
        ("GET", "/v1/integrator/webhooks"),
        ("POST", "/v1/integrator/webhooks"),
        ("GET", "/v1/integrator/webhooks"),
        ("PATCH", f"/v1/integrator/webhooks/{created.id}"),
        ("DELETE", f"/v1/integrator/webhooks/{created.id}"),
        ("GET", "/v1/integrator/webhooks"),
        ("DELETE", f"/v1/integrator/webhooks/{created.id}"),
        ("GET", "/v1/integrator/webhooks"),  # the 404 of a delete is confirmed by a read
    ]


def test_legacy_mode_works_against_the_sandbox(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    config = sandbox.stack_config()
    del config["spritz:integratorSecret"]
    _config.set_stack_config(config)
    created = hooks.create({"url": URL, "events": []})
    assert hooks.read(created.id, outs(created)).id == created.id


def test_refresh_sees_dashboard_changes_and_disabling(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    created = hooks.create({"url": URL, "events": ["payment.completed"]})
    app = sandbox.apps["spritz"]
    app.edit(created.id, {"events": ["payment.refunded", "account.created"], "failureCount": 7, "disabled": True})
    read = hooks.read(created.id, outs(created))
    assert outs(read)["events"] == ["account.created", "payment.refunded"]
    assert outs(read)["failure_count"] == 7 and outs(read)["disabled"] is True
    assert read.inputs == {"url": URL, "events": ["account.created", "payment.refunded"]}
    # Declared as before: the events change, and being disabled replaces the webhook.
    diff = hooks.diff(created.id, outs(read), {"url": URL, "events": ["payment.completed"]})
    assert diff.changes is True and diff.replaces == ["disabled"]


def test_update_of_a_webhook_deleted_elsewhere_says_refresh(sandbox: Sandbox,
                                                            hooks: IntegratorWebhookProvider) -> None:
    created = hooks.create({"url": URL, "events": []})
    sandbox.apps["spritz"].remove(created.id)
    with pytest.raises(WebhookError, match="pulumi refresh"):
        hooks.update(created.id, outs(created), {"url": URL, "events": ["*"]})


def test_adoption_creates_nothing_and_refuses_to_rewrite(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    existing = hooks.create({"url": URL, "events": ["payment.created"]})
    _lifecycle.reset_claims()  # a later operation adopts what an earlier one made
    mark = len(sandbox.journal)
    adopted = hooks.create({"url": URL, "events": ["payment.created"], "webhook_id": existing.id})
    assert adopted.id == existing.id
    # One listing, shared by the disabled check and the adoption's read.
    assert [m for m, _ in spritz_calls(sandbox)[mark:]] == ["GET"]
    assert outs(adopted)["webhook_id"] == existing.id

    _lifecycle.reset_claims()
    with pytest.raises(AdoptionError, match=r"events: live \['payment.created'\], declared \['onramp.completed'\]"):
        hooks.create({"url": URL, "events": ["onramp.completed"], "webhook_id": existing.id})
    assert sandbox.apps["spritz"].webhooks()[0]["events"] == ["payment.created"]
    assert all(m == "GET" for m, _ in spritz_calls(sandbox)[mark:])
    assert len(sandbox.apps["spritz"].webhooks()) == 1


def test_adoption_refuses_a_different_url_a_missing_id_and_a_disabled_webhook(
    sandbox: Sandbox, hooks: IntegratorWebhookProvider
) -> None:
    existing = hooks.create({"url": URL, "events": []})
    _lifecycle.reset_claims()
    with pytest.raises(AdoptionError) as raised:
        hooks.create({"url": "https://elsewhere.example.com", "events": [], "webhook_id": existing.id})
    assert raised.value.field == "url" and "url: live 'https://" in str(raised.value)
    with pytest.raises(NotFoundError, match="wh_missing"):
        hooks.create({"url": URL, "events": [], "webhook_id": "wh_missing"})
    sandbox.apps["spritz"].edit(existing.id, {"disabled": True, "failureCount": 5})
    _lifecycle.reset_claims()
    _http.process_clients().close()  # a later operation, in a provider process of its own
    with pytest.raises(WebhookError, match="is disabled"):
        hooks.create({"url": URL, "events": [], "webhook_id": existing.id})
    assert len(sandbox.apps["spritz"].webhooks()) == 1


def test_a_lost_create_answer_adopts_what_was_made_and_skips_disabled_ones(
    sandbox: Sandbox, hooks: IntegratorWebhookProvider
) -> None:
    old = hooks.create({"url": URL, "events": ["payment.completed"]})
    sandbox.apps["spritz"].edit(old.id, {"disabled": True})
    sandbox.faults.append(Fault(provider="spritz", method="POST", path="webhooks$", status=503, after_commit=True,
                                count=1))
    created = hooks.create({"url": URL, "events": ["payment.completed"]})
    assert created.id != old.id
    assert outs(created)["disabled"] is False
    assert len(sandbox.apps["spritz"].webhooks()) == 2


def test_concurrent_calls_share_one_client(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    def make(i: int) -> str:
        return hooks.create({"url": f"{URL}/{i}", "events": ["payment.completed"]}).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(make, range(12)))
    assert len(set(ids)) == 12
    assert all(e["status"] == 200 for e in sandbox.journal)


def test_list_webhooks_for_discover(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    a = hooks.create({"url": f"{URL}/a", "events": ["payment.completed"]})
    b = hooks.create({"url": f"{URL}/b", "events": ["*"]})
    listed = dict(spritz.list_webhooks())
    assert listed == {
        a.id: {"url": f"{URL}/a", "events": ["payment.completed"], "failure_count": 0, "disabled": False},
        b.id: {"url": f"{URL}/b", "events": ["*"], "failure_count": 0, "disabled": False},
    }


def test_webhook_secret_lifecycle(sandbox: Sandbox, secret_provider: WebhookSecretProvider,
                                  hooks: IntegratorWebhookProvider) -> None:
    app = sandbox.apps["spritz"]
    created = secret_provider.create({"secret": "spritz-signing-01", PROVIDER_KEY: "p"})
    assert created.id == "webhook-secret"
    assert outs(created) == {"secret": "spritz-signing-01", "base_url": BASE_URL}
    hook = hooks.create({"url": URL, "events": ["payment.completed"]})
    delivery = app.delivery(hook.id, None)
    verify.spritz(delivery.headers, delivery.body, secret="spritz-signing-01")

    read = secret_provider.read(created.id, {**outs(created), PROVIDER_KEY: "p"})
    assert read.id == created.id and outs(read) == {"secret": "spritz-signing-01", "base_url": BASE_URL}
    assert read.inputs == {"secret": "spritz-signing-01"}

    updated = secret_provider.update(created.id, outs(created), {"secret": "spritz-signing-02"})
    assert outs(updated) == {"secret": "spritz-signing-02", "base_url": BASE_URL}
    delivery = app.delivery(hook.id, None)
    verify.spritz(delivery.headers, delivery.body, secret="spritz-signing-02")
    with pytest.raises(verify.SignatureError):
        verify.spritz(delivery.headers, delivery.body, secret="spritz-signing-01")

    mark = len(sandbox.journal)
    secret_provider.delete(created.id, outs(updated))
    secret_provider.delete(created.id, outs(updated))  # idempotent
    assert len(sandbox.journal) == mark, "destroy of the secret calls nothing"
    assert app.data["secret"] == "spritz-signing-02"  # left configured at Spritz
    # The sandbox takes PUT only (its default): POST, the newer spec's verb tried first at a host that is
    # not the documented sandbox, is refused with 405 and PUT follows, on create and on update.
    secret_calls = [(m, p) for m, p in spritz_calls(sandbox) if "secret" in p]
    assert secret_calls == [("POST", "/v1/integrator/webhook-secret"), ("PUT", "/v1/integrator/webhook-secret")] * 2


def test_setting_the_secret_is_retried_after_a_lost_answer(sandbox: Sandbox, clock: FakeClock,
                                                           secret_provider: WebhookSecretProvider) -> None:
    sandbox.faults.append(Fault(provider="spritz", method="PUT", path="webhook-secret", status=503,
                                after_commit=True, count=1))
    created = secret_provider.create({"secret": "retry-secret-01"})
    assert created.id == "webhook-secret"
    calls = [(e["method"], e["status"]) for e in sandbox.journal if "webhook-secret" in e["path"]]
    assert calls == [("POST", 405), ("PUT", 503), ("PUT", 200)]
    assert len(clock.sleeps) == 1  # one pause before the PUT went again


def test_wrong_credentials_against_the_sandbox(sandbox: Sandbox, hooks: IntegratorWebhookProvider,
                                               secret_provider: WebhookSecretProvider) -> None:
    config = sandbox.stack_config()
    _config.set_stack_config({**config, "spritz:integratorSecret": "wrong-secret-999"})
    with pytest.raises(AuthenticationError) as raised:
        secret_provider.create({"secret": "some-signing-secret"})
    assert raised.value.status == 401
    assert "X-Signature" in str(raised.value)
    assert "wrong-secret-999" not in str(raised.value) and "some-signing-secret" not in str(raised.value)
    _config.set_stack_config({**config, "spritz:apiKey": "wrong-key-999"})
    with pytest.raises(AuthenticationError, match="invalid API key"):
        hooks.api_read("wh_1", {})


def test_transient_list_failures_are_retried(sandbox: Sandbox, hooks: IntegratorWebhookProvider,
                                            monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "1")
    created = hooks.create({"url": URL, "events": []})
    sandbox.faults.append(Fault(provider="spritz", method="GET", status=502, count=2))
    assert hooks.read(created.id, outs(created)).id == created.id
    assert len(clock.sleeps) == 2  # one pause per refused listing
    sandbox.faults.append(Fault(provider="spritz", method="GET", status=502))
    _http.process_clients().close()  # a later operation: it lists afresh
    with pytest.raises(TransientError):
        hooks.read(created.id, outs(created))
    given_up = clock.sleeps[2:]
    assert given_up and sum(given_up) <= 1  # retried, but never past the 1 s deadline


def test_the_secret_with_the_sandbox_taking_post(sandbox: Sandbox, secret_provider: WebhookSecretProvider) -> None:
    app = sandbox.apps["spritz"]
    assert isinstance(app, SpritzApp)
    app.use_secret_verb("POST")
    secret_provider.create({"secret": "spritz-signing-03"})
    assert app.data["secret"] == "spritz-signing-03"
    assert [(m, p) for m, p in spritz_calls(sandbox)] == [("POST", "/v1/integrator/webhook-secret")]


def test_both_providers_record_where_they_live() -> None:
    assert IntegratorWebhookProvider.connection_spec is spritz.CONNECTION
    assert WebhookSecretProvider.connection_spec is spritz.CONNECTION


def test_api_list_and_api_matches(sandbox: Sandbox, hooks: IntegratorWebhookProvider) -> None:
    first = hooks.create({"url": URL, "events": ["payment.completed", "account.created"]}).id
    other_events = hooks.create({"url": URL, "events": ["*"]}).id
    other_url = hooks.create({"url": f"{URL}/2", "events": ["account.created", "payment.completed"]}).id
    disabled = hooks.create({"url": URL, "events": ["account.created", "payment.completed"]}).id
    second = hooks.create({"url": URL, "events": ["payment.completed", "account.created"]}).id
    sandbox.apps["spritz"].edit(disabled, {"disabled": True})
    args = spritz.IntegratorWebhookArgs(url=URL, events=["payment.completed", "account.created"])
    assert hooks.api_list(args) == [first, other_events, other_url, disabled, second]
    matches = hooks.api_matches(args)
    assert [id_ for id_, _ in matches] == [first, second]  # oldest first, the disabled one left out
    assert matches[0][1] == {"url": URL, "events": ["account.created", "payment.completed"],
                             "failure_count": 0, "disabled": False}


def test_read_update_and_delete_go_to_the_recorded_base_url(sandbox: Sandbox,
                                                            hooks: IntegratorWebhookProvider) -> None:
    created = hooks.create({"url": URL, "events": []})
    state = outs(created)
    assert state["base_url"] == BASE_URL
    _config.set_stack_config({**sandbox.stack_config(), "spritz:baseUrl": "http://sandbox.invalid/moved"})
    assert hooks.read(created.id, state).id == created.id
    hooks.update(created.id, state, {"url": URL, "events": ["*"]})
    assert sandbox.apps["spritz"].webhooks()[0]["events"] == ["*"]
    hooks.delete(created.id, state)
    assert sandbox.apps["spritz"].webhooks() == []
    assert all(e["path"].startswith("/spritz/") for e in sandbox.journal)
    # Configured elsewhere now: the webhook is made again there, never moved silently.
    diff = hooks.diff(created.id, state, {"url": URL, "events": []})
    assert diff.replaces == ["base_url"]
