"""Kotani Pay: check, diff, error mapping, auth, and the lifecycle against the in-process sandbox."""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pulumi
import pytest

from pulumi_webhooks import _config, _http, kotanipay, verify
from pulumi_webhooks._errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    InputError,
    NotFoundError,
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
from pulumi_webhooks.sandbox import Fault, Sandbox
from pulumi_webhooks.sandbox.kotanipay import SANDBOX_API_KEY, SANDBOX_INTEGRATOR_ID

from ..helpers import failures_by_field, pickled_provider, pulumi_mocks

URL = "https://hooks.example.com/kotani"
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

    with _http.use_transport(httpx.MockTransport(refuse)):
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


def mock_client(handler: Handler, *, deadline: float = 1.0) -> ApiClient:
    connection = _config.Connection(CONNECTION, "production", "https://api.kotanipay.invalid",
                                    {"apiKey": SANDBOX_API_KEY})
    policy = RetryPolicy(deadline=deadline, timeout=1, base_delay=0.001, max_delay=0.01)
    with _http.use_transport(httpx.MockTransport(handler)):
        return ApiClient(connection, KotaniDialect(), kotanipay.ApiKeyAuth(), policy)


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
    assert type(error) is ApiError
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

    with _http.use_transport(httpx.MockTransport(echo)):
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


def test_a_429_is_retried_after_the_wait_it_asks_for() -> None:
    answers = iter([
        httpx.Response(429, json={"success": False, "message": "slow", "data": {"retryAfter": 0.05}}),
        httpx.Response(200, json={"success": True, "data": {"id": SANDBOX_INTEGRATOR_ID}}),
    ])
    started = time.monotonic()
    response = mock_client(lambda r: next(answers)).request("update", "PATCH", "/api/v3/integrator/webhook",
                                                            json_body={}, idempotent=True)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.05


# -- connection and auth --------------------------------------------------------------------


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


def test_threads_share_one_client(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    created = create(provider, declared())
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: provider.read(created.id, created.outs).id, range(16)))
    assert results == [created.id] * 16
    assert len(_http._clients) == 1


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
    }
    held = app(sandbox).data["integrator"]
    assert (held["webhook_url"], held["webhook_events"], held["webhook_secret"]) == (
        URL, ["payment.confirmed", "system.event"], SECRET)
    assert delivered_with(sandbox, SECRET)


def test_create_takes_over_and_remembers_the_existing_setting(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox, events=["system.event", "kyc.status.changed"])
    result = create(provider, declared())
    assert result.outs["original_url"] == "https://legacy.example.com/hooks"
    assert result.outs["original_events"] == ["kyc.status.changed", "system.event"]
    assert app(sandbox).data["integrator"]["webhook_url"] == URL


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
    created = create(provider, declared())
    mark = sandbox.journal[-1]["seq"]
    news = provider.check({}, declared(url="https://new.example.com/k", secret="whsec_rotated_0002",
                                       events=[])).inputs
    updated = provider.update(created.id, {**created.outs, PROVIDER_KEY: "p"}, news)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator"), ("PATCH", "/api/v3/integrator/webhook")]
    assert updated.outs == {
        "url": "https://new.example.com/k", "events": [], "secret": "whsec_rotated_0002",
        "integrator_id": created.id, "original_url": "https://legacy.example.com/hooks",
        "original_events": ["system.event"],
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
    assert [m for m, _ in calls(sandbox)] == ["GET"]  # nothing written to the wrong account


def test_update_refuses_invalid_input_without_calling(sandbox: Sandbox, provider: IntegratorWebhookProvider) -> None:
    with pytest.raises(InputError, match="url"):
        provider.update(SANDBOX_INTEGRATOR_ID, outputs(), declared(url="http://plain.example.com"))
    assert calls(sandbox) == []


def test_destroy_restores_what_create_found_and_is_idempotent(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox, events=["kyc.status.changed"])
    created = create(provider, declared())
    provider.delete(created.id, {**created.outs, PROVIDER_KEY: "p"})
    held = app(sandbox).data["integrator"]
    assert (held["webhook_url"], held["webhook_events"]) == ("https://legacy.example.com/hooks",
                                                             ["kyc.status.changed"])
    # The secret found at create cannot be known: the declared one stays, deliveries stay signed.
    assert held["webhook_secret"] == SECRET
    mark = sandbox.journal[-1]["seq"]
    provider.delete(created.id, created.outs)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator")]


def test_destroy_clears_a_setting_that_was_empty_at_create(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    provider.delete(created.id, created.outs)
    held = app(sandbox).data["integrator"]
    assert (held["webhook_url"], held["webhook_events"], held["webhook_secret"]) == (None, [], None)
    assert app(sandbox).webhooks() == []
    mark = sandbox.journal[-1]["seq"]
    provider.delete(created.id, created.outs)
    assert calls(sandbox, mark) == [("GET", "/api/v3/integrator")]


def test_destroy_of_another_account_or_a_removed_setting_writes_nothing(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    mark = sandbox.journal[-1]["seq"]
    provider.delete("0" * 24, outputs(integrator_id="0" * 24))
    app(sandbox).remove(created.id)
    provider.delete(created.id, created.outs)
    assert [m for m, _ in calls(sandbox, mark)] == ["GET", "GET"]


def test_destroy_puts_back_events_this_module_does_not_know(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    created = create(provider, declared())
    state = {**created.outs, "original_url": "https://legacy.example.com/h", "original_events": ["system.event"]}
    provider.delete(created.id, state)
    assert app(sandbox).data["integrator"]["webhook_events"] == ["system.event"]
    # A body with an event the sandbox does not know is refused by it, with the envelope's details.
    state["original_events"] = ["payout.future.event"]
    app(sandbox).edit(created.id, {"webhook_url": URL})
    with pytest.raises(ApiError, match="webhook_events"):
        provider.delete(created.id, state)


def test_a_lost_patch_answer_is_retried_and_keeps_the_original(
    sandbox: Sandbox, provider: IntegratorWebhookProvider
) -> None:
    preset(sandbox)
    sandbox.faults.append(Fault(provider="kotanipay", method="PATCH", drop=True, after_commit=True, count=1))
    created = create(provider, declared())
    assert created.outs["original_url"] == "https://legacy.example.com/hooks"
    assert [m for m, _ in calls(sandbox)] == ["GET", "PATCH", "PATCH"]


def test_a_patch_that_keeps_failing_stops_the_create_without_reading_again(
    sandbox: Sandbox, provider: IntegratorWebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "0.3")
    _http.clear_clients()
    preset(sandbox)
    sandbox.faults.append(Fault(provider="kotanipay", method="PATCH", status=503, after_commit=True))
    with pytest.raises(TransientError) as caught:
        create(provider, declared())
    assert caught.value.maybe_committed is False
    assert [m for m, _ in calls(sandbox)].count("GET") == 1


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
    # The secret reaches the engine in its secret envelope, never as plain text.
    assert inputs.pop("secret") == {pulumi.runtime.rpc._special_sig_key: pulumi.runtime.rpc._special_secret_sig,
                                    "value": SECRET}
    assert inputs == {"url": URL, "events": ["payment.confirmed"]}
    provider, serialized = pickled_provider(args)
    assert type(provider) is IntegratorWebhookProvider and vars(provider) == {}
    assert len(serialized) < 1000  # by reference, not by value
