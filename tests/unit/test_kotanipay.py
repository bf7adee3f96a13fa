"""Kotani Pay: check, diff, error mapping, auth, and the lifecycle against the in-process sandbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pulumi
import pytest

from pulumi_webhooks import _config, _http, kotanipay, verify
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
from pulumi_webhooks._http import ApiClient, RetryPolicy
from pulumi_webhooks._lifecycle import PROVIDER_KEY, UNKNOWN
from pulumi_webhooks.kotanipay import (
    CONNECTION,
    DEPRECATED_EVENTS,
    EVENTS,
    IntegratorWebhook,
    IntegratorWebhookProvider,
    KotaniDialect,
)
from pulumi_webhooks.sandbox import Fault, Sandbox, SandboxTransport
from pulumi_webhooks.sandbox.kotanipay import SANDBOX_API_KEY, SANDBOX_INTEGRATOR_ID

from ..helpers import SANDBOX_URL, FakeClock, failures_by_field, pickled_provider, pulumi_mocks

URL = "https://hooks.example.com/kotani"
SANDBOX_BASE = f"{SANDBOX_URL}/kotanipay"
SECRET = "whsec_unit_test_0001"
SEED_EVENTS = (
    "transaction.status.updated",
    "transaction.deposit.status.updated",
    "transaction.withdrawal.status.updated",
    "transaction.onramp.status.updated",
    "transaction.offramp.status.updated",
    "payment.confirmed",
    "kyc.status.changed",
    "refund.lightning.invoice_needed",
    "system.event",
)


@pytest.fixture(autouse=True)
def _fresh_takeovers() -> Iterator[None]:
    kotanipay.reset_takeovers()
    yield
    kotanipay.reset_takeovers()


@pytest.fixture
def provider() -> IntegratorWebhookProvider:
    return IntegratorWebhookProvider()


def declared(**overrides: Any) -> dict[str, Any]:
    return {"url": URL, "secret": SECRET, "events": ["payment.confirmed"], **overrides}


def failures(provider: IntegratorWebhookProvider, news: dict[str, Any]) -> dict[str, str]:
    return failures_by_field(provider.check({}, {**news, PROVIDER_KEY: "p"}).failures)


# -- check -------------------------------------------------------------------------------


def test_events_are_the_seed_nine_plus_the_newer_twelve() -> None:
    assert len(EVENTS) == len(set(EVENTS)) == 21
    assert set(SEED_EVENTS) <= set(EVENTS)
    assert {"refund.completed", "settlement.batch.partial", "settlement.paused"} <= set(EVENTS)
    assert DEPRECATED_EVENTS == ("transaction.status.updated",)


def test_check_normalises_and_defaults_events_to_all(provider: IntegratorWebhookProvider) -> None:
    result = provider.check({}, {"url": f" {URL} ", "secret": SECRET, PROVIDER_KEY: "p"})
    assert result.failures == []
    assert result.inputs["events"] == []  # empty means every event
    assert result.inputs["url"] == URL
    result = provider.check({}, declared(events=["system.event", "payment.confirmed", "system.event"]))
    assert result.inputs["events"] == ["payment.confirmed", "system.event"]


def test_every_documented_event_is_accepted_even_the_deprecated_one(provider: IntegratorWebhookProvider) -> None:
    assert failures(provider, declared(events=list(EVENTS))) == {}
    assert failures(provider, declared(events=["transaction.status.updated"])) == {}


def test_url_must_be_https(provider: IntegratorWebhookProvider) -> None:
    for url in ("http://hooks.example.com/k", "ftp://x.example", "https://", "not a url"):
        assert "url" in failures(provider, declared(url=url)), url
    assert "https://" in failures(provider, declared(url="http://hooks.example.com/k"))["url"]


def test_required_arguments(provider: IntegratorWebhookProvider) -> None:
    assert failures(provider, {"events": []}) == {"url": "is required", "secret": "is required"}


def test_secret_must_not_be_empty_and_is_never_echoed(provider: IntegratorWebhookProvider) -> None:
    assert failures(provider, declared(secret="   ")) == {"secret": "must not be empty"}
    reason = failures(provider, declared(secret=12345678))["secret"]
    assert "12345678" not in reason


def test_unknown_event_names_the_field_and_suggests(provider: IntegratorWebhookProvider) -> None:
    reason = failures(provider, declared(events=["payment.confirmd"]))["events"]
    assert "did you mean 'payment.confirmed'?" in reason
    assert "unknown event 'payment.confirmd'" in reason
    assert "must be a list" in failures(provider, declared(events="payment.confirmed"))["events"]


def test_credentials_are_not_arguments(provider: IntegratorWebhookProvider) -> None:
    assert "apiKey" not in provider.args_model.model_fields
    assert failures(provider, declared(apiKey="k")) == {"apiKey": "is not an argument of this resource"}
    assert CONNECTION.setting("apiKey").secret


def test_unknown_values_pass_check(provider: IntegratorWebhookProvider) -> None:
    result = provider.check({}, {"url": UNKNOWN, "events": [UNKNOWN, "payment.confirmed"], "secret": UNKNOWN,
                                 PROVIDER_KEY: "p"})
    assert result.failures == []
    assert result.inputs["url"] == UNKNOWN
    assert result.inputs["secret"] == UNKNOWN
    assert result.inputs["events"] == [UNKNOWN, "payment.confirmed"]


def test_check_makes_no_call(provider: IntegratorWebhookProvider) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected call {request.url}")

    with _http.use_clients(_http.Clients(httpx.MockTransport(refuse))):
        provider.check({}, declared())
        provider.diff(SANDBOX_INTEGRATOR_ID, outputs(), declared(url="https://other.example/k"))


# -- diff --------------------------------------------------------------------------------


@dataclass
class Made:
    id: str
    outs: dict[str, Any]


def create(provider: IntegratorWebhookProvider, news: dict[str, Any]) -> Made:
    result = provider.create(provider.check({}, news).inputs)
    assert result.outs is not None
    return Made(result.id, result.outs)


def reread(provider: IntegratorWebhookProvider, made: Made) -> dict[str, Any]:
    """The outputs a refresh finds for ``made`` (which must still exist)."""
    result = provider.read(made.id, {**made.outs, PROVIDER_KEY: "p"})
    assert result.id == made.id and result.outs is not None
    return result.outs


def outputs(**overrides: Any) -> dict[str, Any]:
    """Old outputs as the engine hands them to diff/update."""
    return {
        "url": URL, "events": ["payment.confirmed"], "secret": SECRET,
        "integrator_id": SANDBOX_INTEGRATOR_ID, "original_url": "", "original_events": [],
        PROVIDER_KEY: "p", **overrides,
    }


def test_unchanged_order_duplicates_and_omitted_events_are_no_change(provider: IntegratorWebhookProvider) -> None:
    assert provider.diff("id", outputs(), declared()).changes is False
    olds = outputs(events=["payment.confirmed", "system.event"])
    assert provider.diff("id", olds, declared(events=["system.event", "payment.confirmed",
                                                      "system.event"])).changes is False
    # [] and an omitted events argument both mean "all events".
    everything = outputs(events=[])
    assert provider.diff("id", everything, {"url": URL, "secret": SECRET}).changes is False
    assert provider.diff("id", everything, declared(events=[])).changes is False
    assert provider.diff("id", everything, declared(events=None)).changes is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("url", "https://other.example.com/k"), ("events", ["system.event"]), ("events", []),
     ("secret", "whsec_rotated_0002")],
)
def test_every_argument_changes_in_place(provider: IntegratorWebhookProvider, field: str, value: Any) -> None:
    result = provider.diff("id", outputs(), declared(**{field: value}))
    assert result.changes is True
    assert result.replaces == []
    assert result.delete_before_replace is False
    assert result.stables == ["integrator_id"]


def test_unknowns_are_in_place_changes_during_preview(provider: IntegratorWebhookProvider) -> None:
    for field in ("url", "events", "secret"):
        result = provider.diff("id", outputs(), declared(**{field: UNKNOWN}))
        assert result.changes is True and result.replaces == [], field


# -- errors --------------------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler, *, deadline: float = 1.0, api_secret: str | None = None,
                clock: FakeClock | None = None) -> ApiClient:
    values = {"apiKey": SANDBOX_API_KEY, **({"apiSecret": api_secret} if api_secret else {})}
    connection = _config.Connection(CONNECTION, "production", "https://api.kotanipay.invalid", values)
    policy = RetryPolicy(deadline=deadline, timeout=1, base_delay=0.001, max_delay=0.01, clock=clock or FakeClock())
    return ApiClient(connection, KotaniDialect(), kotanipay.ApiKeyAuth(), policy, httpx.MockTransport(handler))


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def envelope(message: str, code: str | None = None, **data: Any) -> dict[str, Any]:
    return {"success": False, "message": message, "error_code": code, "data": data}


def test_bad_request_maps_every_detail() -> None:
    client = mock_client(answer(400, envelope("Bad Request", "VALIDATION_ERROR",
                                              errors=["webhook_url: must be HTTPS", {"field": "webhook_events",
                                                                                      "message": "unknown"}])))
    with pytest.raises(ApiError) as caught:
        client.request("update integrator webhook setting", "PATCH", "/api/v3/integrator/webhook", json_body={})
    error = caught.value
    assert type(error) is RejectedError
    assert (error.provider, error.operation, error.status, error.code) == (
        "Kotani Pay", "update integrator webhook setting", 400, "VALIDATION_ERROR")
    assert error.message == "Bad Request: webhook_url: must be HTTPS; webhook_events: unknown"
    assert str(error).startswith("Kotani Pay: update integrator webhook setting failed (HTTP 400 VALIDATION_ERROR")


def test_401_and_403_are_authentication_errors_without_the_key() -> None:
    for status, message in ((401, "Unauthorized"), (403, "API key lacks permission")):
        body = envelope(f"{message}: Bearer {SANDBOX_API_KEY}", "UNAUTHORIZED")
        calls: list[int] = []

        def handler(request: httpx.Request, body: Any = body, status: int = status,
                    calls: list[int] = calls) -> httpx.Response:
            calls.append(1)
            assert request.headers["Authorization"] == f"Bearer {SANDBOX_API_KEY}"
            return httpx.Response(status, json=body)

        with pytest.raises(AuthenticationError) as caught:
            mock_client(handler).request("read integrator webhook setting", "GET", "/api/v3/integrator")
        assert caught.value.status == status
        assert SANDBOX_API_KEY not in str(caught.value)
        assert "kotanipay:apiKey" in str(caught.value)
        assert len(calls) == 1  # an API key cannot be renewed: no second try


def test_404_is_not_found_and_5xx_is_transient() -> None:
    with pytest.raises(NotFoundError):
        mock_client(answer(404, envelope("Not Found"))).request("read", "GET", "/api/v3/integrator")
    with pytest.raises(TransientError) as caught:
        mock_client(answer(500, envelope("Internal server error", "INTERNAL_ERROR")), deadline=0.05).request(
            "read", "GET", "/api/v3/integrator")
    assert caught.value.code == "INTERNAL_ERROR"


def test_success_false_in_a_2xx_is_a_failure() -> None:
    with pytest.raises(ApiError) as caught:
        mock_client(answer(200, envelope("Integrator not active", "INACTIVE"))).request(
            "read", "GET", "/api/v3/integrator")
    assert caught.value.code == "INACTIVE" and caught.value.message == "Integrator not active"


def test_odd_envelopes_still_map() -> None:
    with pytest.raises(ApiError) as caught:
        mock_client(lambda r: httpx.Response(400, content=b"<html>oops</html>")).request("read", "GET", "/x")
    assert caught.value.message == "Bad Request"
    with pytest.raises(ApiError) as caught:
        mock_client(answer(400, {"success": False, "message": ["a is bad", "b is bad"], "error_code": 4001,
                                 "data": []})).request("read", "GET", "/x")
    assert (caught.value.message, caught.value.code) == ("a is bad; b is bad", "4001")


def test_the_webhook_secret_is_redacted_from_errors(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"success": True, "data": {"id": SANDBOX_INTEGRATOR_ID}})
        return httpx.Response(400, json=envelope(f"bad body {request.content.decode()}"))

    with _http.use_clients(_http.Clients(httpx.MockTransport(echo))):
        _config.set_stack_config(sandbox.stack_config())
        with pytest.raises(ApiError) as caught:
            create(provider, declared())
    assert SECRET not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (envelope("Too many requests", data_retry=None), {"Retry-After": "7"}, 7.0),
        ({"success": False, "message": "slow down", "data": {"retryAfter": 12}}, {}, 12.0),
        ({"success": False, "message": "slow down", "retry_after": "3.5", "data": {}}, {}, 3.5),
        (envelope("Too many"), {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}, 30.0),
        (envelope("Too many"), {}, None),
        ({"success": False, "data": {"retryAfter": "soon"}}, {}, None),
    ],
)
def test_retry_after_honours_every_documented_shape(body: Any, headers: dict[str, str], expected: float | None) -> None:
    response = httpx.Response(429, json=body, headers=headers)
    assert KotaniDialect().retry_after(response) == expected


def test_rate_limit_reset_as_an_epoch() -> None:
    reset = str(int(time.time()) + 20)
    wait = KotaniDialect().retry_after(httpx.Response(429, headers={"X-RateLimit-Remaining": "0",
                                                                    "X-RateLimit-Reset": reset}))
    assert wait is not None and 15 <= wait <= 21
    wait = KotaniDialect().retry_after(httpx.Response(429, headers={"X-RateLimit-Reset": reset + "000"}))
    assert wait is not None and 15 <= wait <= 21


def test_a_429_is_retried_after_the_wait_it_asks_for(clock: FakeClock) -> None:
    answers = iter([
        httpx.Response(429, json={"success": False, "message": "slow", "data": {"retryAfter": 0.05}}),
        httpx.Response(200, json={"success": True, "data": {"id": SANDBOX_INTEGRATOR_ID}}),
    ])
    started = clock.monotonic()
    response = mock_client(lambda r: next(answers), clock=clock).request(
        "update", "PATCH", "/api/v3/integrator/webhook", json_body={}, idempotent=True)
    assert response.status_code == 200
    assert clock.monotonic() - started >= 0.05
    assert clock.sleeps == [0.05]  # the body's retryAfter, not a jittered backoff


# -- connection and auth --------------------------------------------------------------------


@pytest.mark.usefixtures("unconfigured")
def test_connection_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CONNECTION.resolve().base_url == "https://api.kotanipay.com"
    monkeypatch.setenv("KOTANIPAY_ENVIRONMENT", "sandbox")
    assert CONNECTION.resolve().base_url == "https://sandbox-api.kotanipay.com"
    monkeypatch.setenv("KOTANIPAY_BASE_URL", "http://127.0.0.1:9/kotanipay/")
    assert CONNECTION.resolve().base_url == "http://127.0.0.1:9/kotanipay"
    monkeypatch.setenv("KOTANIPAY_API_KEY", "from-env")
    _config.set_stack_config({"kotanipay:apiKey": "from-config"})
    assert CONNECTION.resolve().require("apiKey") == "from-config"
    assert "from-config" not in repr(CONNECTION.resolve())


@pytest.mark.usefixtures("unconfigured")
def test_a_missing_key_names_both_ways_to_set_it(provider: IntegratorWebhookProvider) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider.read(SANDBOX_INTEGRATOR_ID, outputs())
    assert "kotanipay:apiKey" in str(caught.value) and "KOTANIPAY_API_KEY" in str(caught.value)
    assert "--secret" in str(caught.value)


def test_auth_sends_the_key_as_bearer_and_registers_it_for_redaction() -> None:
    seen: list[str] = []
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={"success": True, "data": {"id": "x"}})

    client = mock_client(handler)
    client.request("read", "GET", "/api/v3/integrator")
    assert seen == [f"Bearer {SANDBOX_API_KEY}"]
    assert client.redact(f"key {SANDBOX_API_KEY}") == "key ***"
    assert kotanipay.ApiKeyAuth().renew(httpx.Request("GET", "https://kotani.invalid/api/v3/integrator")) is False


# -- isSecure request signing ---------------------------------------------------------------

API_SECRET = "kp_api_secret_unit_0001"
STAMP = "1767225600"
NONCE = "0b8f3c1e-4a5d-4e6f-9a7b-8c9d0e1f2a3b"


def _hmac_hex(message: str) -> str:
    return hmac.new(API_SECRET.encode(), message.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.fixture
def fixed_stamp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kotanipay, "_timestamp", lambda: STAMP)
    monkeypatch.setattr(kotanipay, "_nonce", lambda: NONCE)


def test_the_api_secret_is_a_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    setting = CONNECTION.setting("apiSecret")
    assert (setting.env, setting.secret) == ("KOTANIPAY_API_SECRET", True)
    monkeypatch.setenv("KOTANIPAY_API_SECRET", API_SECRET)
    assert CONNECTION.resolve().get("apiSecret") == API_SECRET
    assert API_SECRET in CONNECTION.resolve().secrets and API_SECRET not in repr(CONNECTION.resolve())
    assert "kotanipay:apiSecret" in CONNECTION.resolve().credentials


def test_without_an_api_secret_no_request_is_signed() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={"success": True, "data": {"id": "x"}})

    mock_client(handler).request("read", "GET", "/api/v3/integrator")
    assert not {"x-timestamp", "x-nonce", "x-signature"} & set(seen[0])


def test_a_get_signs_its_last_path_segment(fixed_stamp: None) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "data": {"id": "x"}})

    mock_client(handler, api_secret=API_SECRET).request("read", "GET", "/api/v3/integrator", params={"a": "1"})
    headers = seen[0].headers
    assert (headers["x-timestamp"], headers["x-nonce"]) == (STAMP, NONCE)
    assert headers["x-signature"] == _hmac_hex(f"{STAMP}.{NONCE}.integrator")
    assert headers["Authorization"] == f"Bearer {SANDBOX_API_KEY}"


def test_a_patch_signs_its_compact_json_body(fixed_stamp: None) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "data": {"id": "x"}})

    body = {"webhook_url": "https://hooks.example.com/kotani/é", "webhook_secret": SECRET,
            "webhook_events": ["payment.confirmed", "system.event"]}
    mock_client(handler, api_secret=API_SECRET).request("set", "PATCH", "/api/v3/integrator/webhook", json_body=body)
    # JSON.stringify of that body, written out: no whitespace, non-ASCII as UTF-8.
    compact = ('{"webhook_url":"https://hooks.example.com/kotani/é","webhook_secret":"whsec_unit_test_0001",'
               '"webhook_events":["payment.confirmed","system.event"]}')
    assert seen[0].content == compact.encode("utf-8")
    assert seen[0].headers["x-signature"] == _hmac_hex(f"{STAMP}.{NONCE}.{compact}")


def test_every_attempt_is_signed_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = iter(["1767225600", "1767225601"])
    nonces = iter([NONCE, "5f2b9c4d-1e3a-4b6c-8d7e-9f0a1b2c3d4e"])
    monkeypatch.setattr(kotanipay, "_timestamp", lambda: next(stamps))
    monkeypatch.setattr(kotanipay, "_nonce", lambda: next(nonces))
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        if len(seen) == 1:
            return httpx.Response(503, json=envelope("busy"))
        return httpx.Response(200, json={"success": True, "data": {"id": "x"}})

    mock_client(handler, api_secret=API_SECRET).request("read", "GET", "/api/v3/integrator")
    assert [h["x-nonce"] for h in seen] == [NONCE, "5f2b9c4d-1e3a-4b6c-8d7e-9f0a1b2c3d4e"]
    assert seen[1]["x-signature"] == _hmac_hex(f"1767225601.{seen[1]['x-nonce']}.integrator")


def test_the_default_timestamp_is_unix_seconds_and_the_nonce_a_uuid4() -> None:
    stamp = kotanipay._timestamp()
    assert stamp.isdigit() and abs(int(stamp) - time.time()) < 5
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", kotanipay._nonce())
    assert kotanipay._nonce() != kotanipay._nonce()


def test_a_secure_account_works_only_with_the_api_secret(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    app(sandbox).edit(SANDBOX_INTEGRATOR_ID, {"is_secure": True})
    preset(sandbox)
    created = taken_over(sandbox, provider, declared())
    assert reread(provider, created)["url"] == URL
    provider.delete(created.id, created.outs)
    assert app(sandbox).data["integrator"]["webhook_url"] == "https://legacy.example.com/hooks"
    config = {k: v for k, v in sandbox.stack_config().items() if k != "kotanipay:apiSecret"}
    _config.set_stack_config(config)
    _http.process_clients().close()
    with pytest.raises(AuthenticationError) as caught:
        provider.read(created.id, created.outs)
    assert "kotanipay:apiSecret" in str(caught.value)


def test_threads_share_one_client(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    created = create(provider, declared())
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: provider.read(created.id, created.outs).id, range(16)))
    assert results == [created.id] * 16
    assert len(_http.process_clients()._made) == 1


def test_the_provider_instance_holds_no_state(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    create(provider, declared())
    assert vars(provider) == {}
    assert SANDBOX_API_KEY.encode() not in pickle.dumps(provider)


# -- lifecycle against the sandbox ----------------------------------------------------------


def app(sandbox: Sandbox) -> Any:
    return sandbox.apps["kotanipay"]


def calls(sandbox: Sandbox, since: int = 0) -> list[tuple[str, str]]:
    return [(e["method"], e["path"].removeprefix("/kotanipay")) for e in sandbox.journal if e["seq"] > since]


def preset(sandbox: Sandbox, url: str = "https://legacy.example.com/hooks",
           events: list[str] | None = None) -> None:
    """The integrator's setting as it was before the stack (made in the dashboard)."""
    app(sandbox).edit(SANDBOX_INTEGRATOR_ID, {"webhook_url": url, "webhook_events": events or ["system.event"]})


def taken_over(sandbox: Sandbox, provider: IntegratorWebhookProvider, news: dict[str, Any]) -> Made:
    """The setting found taken over as it is (the only takeover there is), then changed to
    ``news`` by an update, as a deployment after the adopting one does."""
    held = app(sandbox).data["integrator"]
    found = create(provider, {**news, "url": held["webhook_url"], "events": held["webhook_events"]})
    updated = provider.update(found.id, {**found.outs, PROVIDER_KEY: "p"}, provider.check({}, news).inputs)
    assert updated.outs is not None
    return Made(found.id, updated.outs)


def delivered_with(sandbox: Sandbox, secret: str) -> bool:
    delivery = app(sandbox).delivery(SANDBOX_INTEGRATOR_ID, None)
    try:
        verify.kotanipay(delivery.headers, delivery.body, secret=secret)
    except verify.SignatureError:
        return False
    return True


def test_create_reads_then_patches_the_whole_setting(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    result = create(provider, declared(events=["system.event", "payment.confirmed"]))
    assert result.id == SANDBOX_INTEGRATOR_ID
    assert re.fullmatch(r"[0-9a-f]{24}", result.id)
    assert calls(sandbox) == [("GET", "/api/v3/integrator"), ("PATCH", "/api/v3/integrator/webhook")]
    assert result.outs == {
        "url": URL, "events": ["payment.confirmed", "system.event"], "secret": SECRET,
        "integrator_id": SANDBOX_INTEGRATOR_ID, "original_url": "", "original_events": [],
        "base_url": SANDBOX_BASE,
    }
    held = app(sandbox).data["integrator"]
    assert (held["webhook_url"], held["webhook_events"], held["webhook_secret"]) == (
        URL, ["payment.confirmed", "system.event"], SECRET)
    assert delivered_with(sandbox, SECRET)


def test_create_takes_over_a_setting_only_as_it_is_and_remembers_it(
    sandbox: Sandbox, sent: Recorder, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox, events=["system.event", "kyc.status.changed"])
    with pytest.raises(AdoptionError) as refused:
        create(provider, declared())
    message = str(refused.value)
    assert "url: live 'https://legacy.example.com/hooks', declared 'https://hooks.example.com/kotani'" in message
    assert "events: live ['kyc.status.changed', 'system.event'], declared ['payment.confirmed']" in message
    assert SECRET not in message
    assert sent.patches() == [], "a refused takeover wrote"
    result = create(provider, declared(url="https://legacy.example.com/hooks",
                                       events=["kyc.status.changed", "system.event"]))
    assert result.outs["original_url"] == "https://legacy.example.com/hooks"
    assert result.outs["original_events"] == ["kyc.status.changed", "system.event"]
    # The exception: the secret cannot be compared, so the takeover sets the declared one.
    assert sent.patches() == [{"webhook_url": "https://legacy.example.com/hooks",
                               "webhook_events": ["kyc.status.changed", "system.event"], "webhook_secret": SECRET}]
    assert delivered_with(sandbox, SECRET)


def test_read_reports_the_live_setting_and_keeps_the_secret(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    read = provider.read(created.id, {**created.outs, PROVIDER_KEY: "p"})
    assert read.id == created.id
    assert read.outs == created.outs
    assert read.inputs == {"url": URL, "events": ["payment.confirmed"], "secret": SECRET}

    app(sandbox).edit(created.id, {"webhook_url": "https://dashboard.example.com/k",
                                   "webhook_events": ["refund.failed", "refund.completed"]})
    drifted = reread(provider, created)
    assert drifted["url"] == "https://dashboard.example.com/k"
    assert drifted["events"] == ["refund.completed", "refund.failed"]
    assert drifted["secret"] == SECRET  # write-only: kept from the declaration
    assert drifted["original_url"] == ""
    assert provider.diff(created.id, drifted, declared()).changes is True


def test_all_events_never_diffs_whatever_form_the_read_takes(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared(events=[]))
    assert reread(provider, created)["events"] == []
    # An API that spells "all" as the full list (with or without the deprecated event).
    current = [e for e in EVENTS if e not in DEPRECATED_EVENTS]
    for spelled in (current, list(EVENTS)):
        app(sandbox).edit(created.id, {"webhook_events": spelled})
        read = reread(provider, created)
        assert read["events"] == []
        assert provider.diff(created.id, read, declared(events=[])).changes is False
    # A real subset is drift.
    app(sandbox).edit(created.id, {"webhook_events": current[:-1]})
    assert reread(provider, created)["events"] == sorted(current[:-1])


def test_an_explicit_list_is_reported_as_is(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    created = create(provider, declared(events=["payment.confirmed"]))
    app(sandbox).edit(created.id, {"webhook_events": []})
    read = reread(provider, created)
    assert read["events"] == []
    assert provider.diff(created.id, read, declared(events=["payment.confirmed"])).changes is True


def test_a_cleared_setting_or_another_account_reads_as_gone(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    assert provider.read("0" * 24, created.outs).id == ""
    app(sandbox).remove(created.id)
    gone = provider.read(created.id, created.outs)
    assert gone.id == "" and gone.outs == {}


def test_create_after_a_clear_applies_again(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    created = create(provider, declared())
    app(sandbox).remove(created.id)
    again = create(provider, declared())
    assert again.id == created.id
    assert app(sandbox).data["integrator"]["webhook_url"] == URL
    assert delivered_with(sandbox, SECRET)


def test_update_patches_in_place_and_returns_every_output(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox)
    created = taken_over(sandbox, provider, declared())
    mark = sandbox.journal[-1]["seq"]
    news = provider.check({}, declared(url="https://new.example.com/k", secret="whsec_rotated_0002",
                                       events=[])).inputs
    updated = provider.update(created.id, {**created.outs, PROVIDER_KEY: "p"}, news)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator"), ("PATCH", "/api/v3/integrator/webhook")]
    assert updated.outs == {
        "url": "https://new.example.com/k", "events": [], "secret": "whsec_rotated_0002",
        "integrator_id": created.id, "original_url": "https://legacy.example.com/hooks",
        "original_events": ["system.event"], "base_url": SANDBOX_BASE,
    }
    held = app(sandbox).data["integrator"]
    assert (held["webhook_url"], held["webhook_events"]) == ("https://new.example.com/k", [])
    assert delivered_with(sandbox, "whsec_rotated_0002")


def test_update_with_another_accounts_key_points_to_refresh(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    news = provider.check({}, declared()).inputs
    with pytest.raises(WebhookError, match="pulumi refresh"):
        provider.update("0" * 24, outputs(integrator_id="0" * 24), news)
    assert {m for m, _ in calls(sandbox)} == {"GET"}  # nothing written to the wrong account


def test_update_refuses_invalid_input_without_calling(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    with pytest.raises(InputError, match="url"):
        provider.update(SANDBOX_INTEGRATOR_ID, outputs(), declared(url="http://plain.example.com"))
    assert calls(sandbox) == []


class Recorder(httpx.BaseTransport):
    """The sandbox's transport, keeping every request sent through it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)

    def patches(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "PATCH"]


@pytest.fixture
def sent(sandbox: Sandbox) -> Iterator[Recorder]:
    recorder = Recorder(SandboxTransport(sandbox))
    _http.process_clients().close()
    with _http.use_clients(_http.Clients(recorder)):
        yield recorder
    _http.process_clients().close()


def held_setting(sandbox: Sandbox) -> tuple[Any, Any, Any]:
    held = app(sandbox).data["integrator"]
    return held["webhook_url"], held["webhook_events"], held["webhook_secret"]


def test_destroy_restores_what_create_found_and_is_idempotent(
    sandbox: Sandbox, sent: Recorder, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox, events=["kyc.status.changed"])
    created = taken_over(sandbox, provider, declared())
    sent.requests.clear()
    provider.delete(created.id, {**created.outs, PROVIDER_KEY: "p"})
    # The secret found at create cannot be known: the declared one stays, deliveries stay signed.
    assert held_setting(sandbox) == ("https://legacy.example.com/hooks", ["kyc.status.changed"], SECRET)
    # Both fields named (an omitted webhook_events would mean every event); no secret sent.
    assert sent.patches() == [{"webhook_url": "https://legacy.example.com/hooks",
                               "webhook_events": ["kyc.status.changed"]}]
    mark = sandbox.journal[-1]["seq"]
    provider.delete(created.id, created.outs)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator")]


def test_destroy_leaves_a_setting_that_was_empty_at_create(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    """Nothing to restore: an empty URL is refused and [] would widen delivery to every event."""
    created = create(provider, declared())
    mark = sandbox.journal[-1]["seq"]
    provider.delete(created.id, created.outs)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator")]
    assert held_setting(sandbox) == (URL, ["payment.confirmed"], SECRET)


@pytest.mark.parametrize(
    "changes",
    [
        {"webhook_url": "https://dashboard.example.com/k"},
        {"webhook_events": ["refund.failed"]},
        {"webhook_events": []},  # widened to all events elsewhere: still not ours
    ],
)
def test_destroy_leaves_a_setting_changed_since(
    sandbox: Sandbox, provider: IntegratorWebhookProvider, changes: dict[str, Any]
) -> None:
    preset(sandbox)
    created = taken_over(sandbox, provider, declared())
    app(sandbox).edit(created.id, changes)
    before = held_setting(sandbox)
    mark = sandbox.journal[-1]["seq"]
    provider.delete(created.id, created.outs)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator")]
    assert held_setting(sandbox) == before


def test_destroy_compares_all_events_in_any_spelling(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox)
    created = taken_over(sandbox, provider, declared(events=[]))
    app(sandbox).edit(created.id, {"webhook_events": [e for e in EVENTS if e not in DEPRECATED_EVENTS]})
    provider.delete(created.id, created.outs)
    assert held_setting(sandbox)[:2] == ("https://legacy.example.com/hooks", ["system.event"])


def test_destroy_writes_nothing_when_create_found_its_own_declaration(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox, url=URL, events=["payment.confirmed"])
    created = create(provider, declared())
    mark = sandbox.journal[-1]["seq"]
    provider.delete(created.id, created.outs)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator")]
    assert held_setting(sandbox)[:2] == (URL, ["payment.confirmed"])


def test_destroy_of_another_account_or_a_removed_setting_writes_nothing(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    mark = sandbox.journal[-1]["seq"]
    provider.delete("0" * 24, outputs(integrator_id="0" * 24))
    app(sandbox).remove(created.id)
    provider.delete(created.id, created.outs)
    assert {m for m, _ in calls(sandbox, mark)} == {"GET"}


def test_destroy_puts_back_events_this_module_does_not_know(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    state = {**created.outs, "original_url": "https://legacy.example.com/h", "original_events": ["system.event"]}
    provider.delete(created.id, state)
    assert app(sandbox).data["integrator"]["webhook_events"] == ["system.event"]
    # A body with an event the sandbox does not know is refused by it, with the envelope's details.
    state["original_events"] = ["payout.future.event"]
    app(sandbox).edit(created.id, {"webhook_url": URL, "webhook_events": ["payment.confirmed"]})
    with pytest.raises(ApiError, match="webhook_events"):
        provider.delete(created.id, state)


@pytest.mark.parametrize("same_declaration", [True, False])
def test_a_replacement_keeps_the_setting_when_the_old_resource_is_deleted(
    sandbox: Sandbox, sent: Recorder, provider: IntegratorWebhookProvider, same_declaration: bool
) -> None:
    """A rename or replacement: the new resource is created first, then the old one deleted."""
    preset(sandbox)
    old = taken_over(sandbox, provider, declared())
    new_args = declared() if same_declaration else declared(url="https://new.example.com/k", events=[])
    if not same_declaration:
        # The new resource finds the old one's setting, and takes it over only as it is.
        with pytest.raises(AdoptionError, match=r"url: live 'https://hooks\.example\.com/kotani'"):
            create(provider, new_args)
        new = taken_over(sandbox, provider, new_args)
    else:
        new = create(provider, new_args)
    assert new.outs["original_url"] == URL  # what the new one found: the old one's setting
    after_create = held_setting(sandbox)
    sent.requests.clear()
    provider.delete(old.id, old.outs)
    assert sent.patches() == []
    assert held_setting(sandbox) == after_create


def test_a_takeover_in_another_process_is_still_seen_when_the_setting_differs(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox)
    old = taken_over(sandbox, provider, declared())
    taken_over(sandbox, provider, declared(url="https://new.example.com/k"))
    kotanipay.reset_takeovers()  # the old resource deleted by a later `pulumi up`
    provider.delete(old.id, old.outs)
    assert held_setting(sandbox)[0] == "https://new.example.com/k"


def test_a_lost_patch_answer_is_retried_and_keeps_the_original(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox)
    sandbox.faults.append(Fault(provider="kotanipay", method="PATCH", drop=True, after_commit=True, count=1))
    created = create(provider, declared(url="https://legacy.example.com/hooks", events=["system.event"]))
    assert created.outs["original_url"] == "https://legacy.example.com/hooks"
    assert [m for m, _ in calls(sandbox)] == ["GET", "PATCH", "PATCH"]


def test_a_patch_that_landed_but_kept_failing_is_confirmed_by_a_read(
    sandbox: Sandbox, provider: IntegratorWebhookProvider, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "0.3")
    _http.process_clients().close()
    sandbox.faults.append(Fault(provider="kotanipay", method="PATCH", status=503, after_commit=True))
    created = create(provider, declared())
    # The setting found before the PATCH (none), not our own one read back.
    assert created.outs["original_url"] == ""
    assert created.outs["url"] == URL
    methods = [m for m, _ in calls(sandbox)]
    assert methods[0] == "GET" and methods[-1] == "GET" and methods.count("GET") == 2
    assert clock.sleeps and sum(clock.sleeps) <= 0.3  # the PATCH was retried within the deadline


def test_a_patch_that_keeps_failing_stops_the_create_without_a_fresh_one(
    sandbox: Sandbox, provider: IntegratorWebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "0.3")
    _http.process_clients().close()
    sandbox.faults.append(Fault(provider="kotanipay", method="PATCH", status=503))  # never applied
    with pytest.raises(TransientError) as caught:
        create(provider, declared())
    assert caught.value.maybe_committed is False
    assert [m for m, _ in calls(sandbox)].count("GET") == 2  # the first read, and the check after
    # A setting that already held the declaration proves nothing about the secret: no success.
    sandbox.faults.clear()
    app(sandbox).edit(SANDBOX_INTEGRATOR_ID, {"webhook_url": URL, "webhook_events": ["payment.confirmed"]})
    sandbox.faults.append(Fault(provider="kotanipay", method="PATCH", status=503, after_commit=True))
    with pytest.raises(TransientError):
        create(provider, declared(secret="whsec_rotated_0002"))


def test_list_and_matches_recover_only_the_declared_setting(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    args = provider.args_model.model_validate(declared())
    assert provider.api_list(args) is None  # a singleton that exists before any create
    assert provider.api_matches(args) == []
    created = create(provider, declared())
    [(found_id, live)] = provider.api_matches(args)
    assert found_id == created.id
    assert live == {"url": URL, "events": ["payment.confirmed"], "integrator_id": created.id}
    assert provider.api_matches(provider.args_model.model_validate(declared(events=[]))) == []
    assert provider.api_matches(provider.args_model.model_validate(declared(url="https://x.example.com"))) == []


def test_wrong_key_is_an_authentication_error(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    _config.set_stack_config({**sandbox.stack_config(), "kotanipay:apiKey": "kp_wrong_key_123456"})
    with pytest.raises(AuthenticationError) as caught:
        create(provider, declared())
    assert caught.value.status == 401
    assert "kp_wrong_key_123456" not in str(caught.value)


def test_list_webhooks(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    assert kotanipay.list_webhooks() == []
    create(provider, declared(events=["system.event", "payment.confirmed"]))
    assert kotanipay.list_webhooks() == [
        (SANDBOX_INTEGRATOR_ID, {"url": URL, "events": ["payment.confirmed", "system.event"]})
    ]


def test_discover_prints_a_declaration_without_secrets(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    import io

    from pulumi_webhooks.discover import discover

    create(provider, declared())
    out = io.StringIO()
    assert discover("kotanipay", out) == 0
    text = out.getvalue()
    assert "kotanipay.IntegratorWebhook(" in text and repr(URL) in text
    assert SECRET not in text
    # The secret is required and never returned: the declaration reads one the user chooses.
    assert "secret=config.require_secret(" in text and "never returned: `up` sets it" in text
    assert "opts=pulumi.ResourceOptions(protect=True)" in text
    compile(text, "<discover>", "exec")  # valid Python as printed


# -- the resource --------------------------------------------------------------------------


def test_resource_declares_outputs_and_secrets() -> None:
    assert IntegratorWebhook._resource_type_name == "dynamic/kotanipay:IntegratorWebhook"
    assert IntegratorWebhook._provider_class is IntegratorWebhookProvider
    provider = IntegratorWebhookProvider()
    assert provider.secret_properties == ("secret",)
    assert provider.write_only == frozenset({"secret"})
    assert provider.id_output == "integrator_id" and provider.adopt_argument is None
    assert set(provider.outputs) <= set(IntegratorWebhook.__annotations__)


def _mocked(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
    return SANDBOX_INTEGRATOR_ID, {"integrator_id": SANDBOX_INTEGRATOR_ID, "original_url": "", "original_events": []}


def test_the_resource_builds_wraps_the_secret_and_pickles_by_reference() -> None:
    with pulumi_mocks(_mocked) as resources:
        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def build() -> pulumi.Output[None]:
            hook = IntegratorWebhook("kotani", url=URL, secret=SECRET, events=["payment.confirmed"])

            def check(values: list[Any]) -> None:
                assert values == [SANDBOX_INTEGRATOR_ID, URL, ["payment.confirmed"], "", [], True]

            return pulumi.Output.all(hook.integrator_id, hook.url, hook.events, hook.original_url,
                                     hook.original_events, pulumi.Output.from_input(hook.secret.is_secret())  # type: ignore[arg-type]
                                     ).apply(check)

        build()
    [args] = resources
    assert args.typ == "pulumi-python:dynamic/kotanipay:IntegratorWebhook"
    inputs = {k: v for k, v in args.inputs.items() if k != PROVIDER_KEY}
    assert inputs.pop("declared_urn") == (
        "urn:pulumi:stack::project::pulumi-webhooks:kotanipay.IntegratorWebhook::kotani")
    # The secret reaches the engine in its secret envelope, never as plain text.
    assert inputs.pop("secret") == {pulumi.runtime.rpc._special_sig_key: pulumi.runtime.rpc._special_secret_sig,
                                    "value": SECRET}
    assert inputs == {"url": URL, "events": ["payment.confirmed"]}
    provider, serialized = pickled_provider(args)
    assert type(provider) is IntegratorWebhookProvider and vars(provider) == {}
    assert len(serialized) < 1000  # by reference, not by value
