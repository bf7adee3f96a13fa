"""VelaFi: check, diff, error mapping, tokens, and the lifecycle against the in-process sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import pickle
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pulumi
import pytest

from pulumi_webhooks import _config, _http, _lifecycle, discover, velafi, verify
from pulumi_webhooks._errors import (
    AdoptionError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RejectedError,
    TransientError,
    WebhookError,
)
from pulumi_webhooks._lifecycle import UNKNOWN
from pulumi_webhooks.sandbox import Fault, Sandbox, SandboxTransport
from pulumi_webhooks.sandbox.velafi import VelaFiApp

from ..helpers import (
    SANDBOX_URL,
    FakeClock,
    failures_by_field,
    in_threads,
    pickled_provider,
    pulumi_mocks,
    sandbox_client,
)

URL = "https://hooks.example.com/velafi"
PROVIDER = velafi.VelaFiWebhookProvider()


def check(**news: Any) -> dict[str, str]:
    """{field: reason} of every failure."""
    result = PROVIDER.check({}, {"__provider": "p", **news})
    return failures_by_field(result.failures)


def valid(**overrides: Any) -> dict[str, Any]:
    return {"event_type": "ORDER_WEBHOOK", "url": URL, **overrides}


def app(sandbox: Sandbox) -> VelaFiApp:
    velafi_app = sandbox.apps["velafi"]
    assert isinstance(velafi_app, VelaFiApp)
    return velafi_app


def token_requests(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.journal if e["path"].endswith("/v2/token/generate"))


def calls(sandbox: Sandbox, since: int = 0) -> list[tuple[str, str]]:
    return [(e["method"], e["path"].removeprefix("/velafi")) for e in sandbox.journal[since:]
            if not e["path"].endswith("/token/generate")]


def read(id_: str, state: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    result = PROVIDER.read(id_, state)
    return result.id or "", result.outs or {}, result.inputs or {}


def create(**overrides: Any) -> tuple[str, dict[str, Any]]:
    result = PROVIDER.create(PROVIDER.check({}, valid(**overrides)).inputs)
    return result.id, result.outs  # type: ignore[return-value]


# -- check -------------------------------------------------------------------------------------


def test_check_accepts_a_declaration_and_fills_defaults() -> None:
    result = PROVIDER.check({}, {"__provider": "p", **valid()})
    assert result.failures == []
    assert result.inputs == {"event_type": "ORDER_WEBHOOK", "url": URL, "enabled": True, "webhook_id": None}


@pytest.mark.parametrize("event_type", velafi.EVENT_TYPES)
def test_check_accepts_every_documented_event_type(event_type: str) -> None:
    assert check(**valid(event_type=event_type)) == {}


def test_the_event_types_are_the_documented_five() -> None:
    # Create Webhook Endpoints lists four; Stablecoin Payment Order Message Push adds the fifth.
    assert set(velafi.EVENT_TYPES) == {"ORDER_WEBHOOK", "GLOBAL_PAYMENT_WEBHOOK", "FUNDING_WEBHOOK",
                                       "ON_RAMP_WITHDRAW_WEBHOOK", "STABLE_COIN_PAYMENT_WEBHOOK"}
    assert check(**valid(event_type="STABLE_COIN_PAYMENT_WEBHOOK")) == {}
    assert "(did you mean 'STABLE_COIN_PAYMENT_WEBHOOK'?)" in check(
        **valid(event_type="stablecoin_payment_webhook"))["event_type"]


@pytest.mark.parametrize(
    ("news", "field", "rule"),
    [
        ({"url": URL}, "event_type", "is required"),
        ({"event_type": "ORDER_WEBHOOK"}, "url", "is required"),
        (valid(event_type="PAYOUT_WEBHOOK"), "event_type", "must be one of ORDER_WEBHOOK, GLOBAL_PAYMENT_WEBHOOK"),
        (valid(url="http://hooks.example.com/v"), "url", "must be a https:// URL"),
        (valid(url="/relative/path"), "url", "must be a https:// URL"),
        (valid(url="https://"), "url", "absolute URL with a host"),
        (valid(url=42), "url", "string"),
        (valid(enabled="yes"), "enabled", "must be true or false, got 'yes'"),
        (valid(enabled=1), "enabled", "must be true or false, got 1"),
        (valid(webhook_id="../other"), "webhook_id", "must be a VelaFi webhook id"),
        (valid(webhook_id=""), "webhook_id", "must be a VelaFi webhook id"),
        (valid(events=["ORDER_WEBHOOK"]), "events", "is not an argument of this resource"),
    ],
)
def test_check_names_the_field_and_the_rule(news: dict[str, Any], field: str, rule: str) -> None:
    failures = check(**news)
    assert field in failures, failures
    assert rule in failures[field]


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("ORDER_WEBHOK", "ORDER_WEBHOOK"), ("order_webhook", "ORDER_WEBHOOK"), ("funding-webhook", "FUNDING_WEBHOOK"),
     ("ON_RAMP_WITHDRAWAL_WEBHOOK", "ON_RAMP_WITHDRAW_WEBHOOK")],
)
def test_check_suggests_the_event_type_meant(typo: str, meant: str) -> None:
    assert f"(did you mean {meant!r}?)" in check(**valid(event_type=typo))["event_type"]


def test_check_gives_no_suggestion_for_a_far_miss() -> None:
    assert "did you mean" not in check(**valid(event_type="SOMETHING"))["event_type"]


@pytest.mark.parametrize("field", ["event_type", "url", "enabled", "webhook_id"])
def test_check_lets_unknown_values_through(field: str) -> None:
    result = PROVIDER.check({}, {"__provider": "p", **valid(**{field: UNKNOWN})})
    assert result.failures == []
    assert result.inputs[field] == UNKNOWN


def test_check_trims_the_url_so_white_space_never_makes_a_diff() -> None:
    inputs = PROVIDER.check({}, valid(url=f"  {URL} ")).inputs
    assert inputs["url"] == URL
    assert PROVIDER.diff("id", {**valid(), "enabled": True}, inputs).changes is False


def test_credentials_are_not_arguments() -> None:
    assert "apiKey" in check(**valid(apiKey="k"))
    assert "api_secret" in check(**valid(api_secret="s"))
    params = set(inspect.signature(velafi.Webhook.__init__).parameters)
    assert params == {"self", "resource_name", "event_type", "url", "enabled", "webhook_id", "account", "opts"}
    assert set(velafi.WebhookArgs.model_fields) == {"event_type", "url", "enabled", "webhook_id"}


# -- diff ------------------------------------------------------------------------------------------

OLDS = {"event_type": "ORDER_WEBHOOK", "url": URL, "enabled": True, "webhook_id": "abc", "status": 10,
        "public_key": "MIIB", "__provider": "p"}


def test_diff_unchanged_is_no_change() -> None:
    result = PROVIDER.diff("abc", OLDS, valid(enabled=True))
    assert result.changes is False
    assert result.replaces == []


def test_diff_defaults_match_an_omitted_enabled() -> None:
    olds = {k: v for k, v in OLDS.items() if k != "enabled"}
    assert PROVIDER.diff("abc", olds, valid(enabled=True)).changes is False


@pytest.mark.parametrize(("field", "value"), [("url", "https://other.example.com/x"), ("enabled", False)])
def test_diff_url_and_enabled_change_in_place(field: str, value: Any) -> None:
    result = PROVIDER.diff("abc", OLDS, valid(**{field: value}))
    assert result.changes is True
    assert result.replaces == []


def test_diff_event_type_replaces() -> None:
    result = PROVIDER.diff("abc", OLDS, valid(event_type="FUNDING_WEBHOOK"))
    assert result.changes is True
    assert result.replaces == ["event_type"]
    assert result.delete_before_replace is False


def test_diff_with_unknowns_during_preview() -> None:
    assert PROVIDER.diff("abc", OLDS, valid(url=UNKNOWN)).replaces == []
    assert PROVIDER.diff("abc", OLDS, valid(url=UNKNOWN)).changes is True
    assert PROVIDER.diff("abc", OLDS, valid(event_type=UNKNOWN)).replaces == ["event_type"]


def test_diff_adoption_id() -> None:
    assert PROVIDER.diff("abc", OLDS, valid(webhook_id="abc")).changes is False
    assert PROVIDER.diff("abc", OLDS, valid(webhook_id=None)).changes is False
    assert PROVIDER.diff("abc", OLDS, valid(webhook_id="other")).replaces == ["webhook_id"]


def test_diff_ignores_outputs_and_the_webhook_id_stays_stable() -> None:
    olds = {**OLDS, "status": 20, "public_key": "changed"}
    result = PROVIDER.diff("abc", olds, valid())
    assert result.changes is False
    assert result.stables == ["webhook_id"]


# -- error mapping ----------------------------------------------------------------------------------

TOKEN_OK = {"code": 200, "msg": "SUCCESS", "data": {"token": "tok-1234-5678", "expireTime": "99999999999999"}}


@pytest.fixture
def mock_api(clock: FakeClock) -> Iterator[Callable[[Callable[[httpx.Request], httpx.Response]], list[httpx.Request]]]:
    """Route the VelaFi client to a handler (its retries pausing on ``clock``); returns the requests it saw."""
    stack: list[Any] = []

    def install(handler: Callable[[httpx.Request], httpx.Response]) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if request.url.path.endswith("/token/generate"):
                return httpx.Response(200, json=TOKEN_OK)
            return handler(request)

        cm = _http.use_clients(_http.Clients(httpx.MockTransport(record), clock))
        cm.__enter__()
        stack.append(cm)
        _config.set_stack_config({"velafi:apiKey": "key-AAAA-1111", "velafi:apiSecret": "secret-BBBB-2222",
                                  "velafi:baseUrl": "https://velafi.test"})
        return seen

    yield install
    for cm in stack:
        cm.__exit__(None, None, None)


def envelope(code: int, msg: str, data: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg, "data": data})


def test_a_business_error_in_a_200_answer_is_an_error(mock_api: Any) -> None:
    mock_api(lambda r: envelope(-4010, "Parameter url is invalid."))
    with pytest.raises(ApiError) as raised:
        PROVIDER.api_create(velafi.WebhookArgs(event_type="ORDER_WEBHOOK", url=URL))
    error = raised.value
    assert type(error) is RejectedError
    assert (error.provider, error.operation, error.status, error.code) == ("VelaFi", "create webhook", 200, "-4010")
    assert error.message == "Parameter url is invalid."
    assert str(error) == "VelaFi: create webhook failed (HTTP 200 -4010: Parameter url is invalid.)"


def test_an_unknown_webhook_id_is_not_found(mock_api: Any) -> None:
    mock_api(lambda r: envelope(-4010, "Parameter webhookId is invalid."))
    with pytest.raises(NotFoundError) as raised:
        PROVIDER.api_update("abc", {"event_type": "ORDER_WEBHOOK"},
                            velafi.WebhookArgs(event_type="ORDER_WEBHOOK", url=URL))
    assert raised.value.code == "-4010"


def test_a_repeated_submit_on_create_may_have_been_committed(mock_api: Any) -> None:
    seen = mock_api(lambda r: envelope(-1174, "REPEATED_SUBMIT_REQUEST"))
    with pytest.raises(TransientError) as raised:
        PROVIDER.api_create(velafi.WebhookArgs(event_type="ORDER_WEBHOOK", url=URL))
    assert raised.value.maybe_committed is True
    assert raised.value.code == "-1174"
    assert [r.method for r in seen if r.method == "POST"] == ["POST"]  # a create is never blindly resent


def test_the_rate_limit_code_is_not_processed_and_retried(mock_api: Any, clock: FakeClock) -> None:
    refused: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not refused:
            refused.append(request)
            return envelope(-1003, "TOO_MANY_REQUESTS")
        return envelope(200, "SUCCESS", [])

    seen = mock_api(handler)
    assert velafi.list_webhooks() == []
    # status 10 refused then retried, then status 20
    assert [r.url.params["status"] for r in seen if r.url.path == "/v2/webhooks"] == ["10", "10", "20"]
    assert len(clock.sleeps) == 1  # one pause before the refused listing went again


def test_server_errors_are_transient(mock_api: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "0")
    mock_api(lambda r: envelope(500, "system busy", status=503))
    with pytest.raises(TransientError) as raised:
        velafi.list_webhooks()
    assert raised.value.status == 503
    assert raised.value.message == "system busy"
    assert clock.sleeps == []  # a deadline of 0 leaves no time for a pause


def test_an_answer_that_is_not_the_envelope_is_an_error(mock_api: Any) -> None:
    mock_api(lambda r: httpx.Response(200, json=["not", "an", "envelope"]))
    with pytest.raises(ApiError, match="envelope"):
        velafi.list_webhooks()


def test_messages_never_show_credentials_or_tokens(mock_api: Any) -> None:
    mock_api(lambda r: envelope(-4010, "bad key-AAAA-1111 secret-BBBB-2222 tok-1234-5678"))
    with pytest.raises(ApiError) as raised:
        velafi.list_webhooks()
    text = str(raised.value)
    for secret in ("key-AAAA-1111", "secret-BBBB-2222", "tok-1234-5678"):
        assert secret not in text
    assert text.count("***") == 3


def test_a_refused_token_renews_once_then_fails_with_a_hint(mock_api: Any) -> None:
    seen = mock_api(lambda r: envelope(-1002, "UNAUTHORIZED", status=401))
    with pytest.raises(AuthenticationError) as raised:
        velafi.list_webhooks()
    assert sum(1 for r in seen if r.url.path.endswith("/token/generate")) == 2
    assert "velafi:apiKey" in str(raised.value)


@pytest.mark.usefixtures("unconfigured")
def test_missing_credentials_name_the_setting(mock_api: Any) -> None:
    mock_api(lambda r: envelope(200, "SUCCESS", []))
    _config.set_stack_config({"velafi:baseUrl": "https://velafi.test", "velafi:apiKey": "key-AAAA-1111"})
    with pytest.raises(ConfigurationError, match=r"velafi:apiSecret.*VELAFI_API_SECRET"):
        velafi.list_webhooks()


def test_dialect_maps_token_codes_to_401_whatever_the_http_status() -> None:
    dialect = velafi.VelaFiDialect()
    request = httpx.Request("GET", "https://velafi.test/v2/webhooks")
    failure = dialect.failure(httpx.Response(200, json={"code": -1005, "msg": "TOKEN_EXPIRED"}, request=request))
    # It means 401 (renew the token); it reports the 200 the wire carried.
    assert failure is not None and (failure.meaning, failure.status, failure.code) == (401, 200, "-1005")
    assert dialect.failure(httpx.Response(200, json={"code": 200, "msg": "SUCCESS", "data": []},
                                          request=request)) is None
    assert dialect.failure(httpx.Response(200, json={"code": "200", "data": None}, request=request)) is None
    failure = dialect.failure(httpx.Response(502, text="bad gateway", request=request))
    assert failure is not None and failure.status == 502 and dialect.is_transient(failure)


# -- tokens ---------------------------------------------------------------------------------------------

# printf '%s' 'timestamp=1700000000000' | openssl dgst -sha256 -hmac 'vf-test-secret-0001'
TOKEN_SIGNATURE_VECTOR = "ce232b0cc8f2b0fa2772f73017e5dbc1ef90c8d07d301b4c20d7e978a5ad6bbd"


def test_the_token_signature_is_hex_hmac_sha256_of_timestamp_equals_ms() -> None:
    expected = hmac.new(b"vf-test-secret-0001", b"timestamp=1700000000000", hashlib.sha256).hexdigest()
    assert expected == TOKEN_SIGNATURE_VECTOR  # stdlib and openssl agree on the documented recipe
    assert velafi.token_signature("vf-test-secret-0001", "1700000000000") == TOKEN_SIGNATURE_VECTOR


def test_the_token_request_is_signed_as_documented(mock_api: Any) -> None:
    seen = mock_api(lambda r: envelope(200, "SUCCESS", []))
    before = int(time.time() * 1000)
    velafi.list_webhooks()
    after = int(time.time() * 1000)
    [token_request] = [r for r in seen if r.url.path == "/v2/token/generate"]
    assert token_request.method == "GET"
    assert token_request.headers["X-BH-APIKEY"] == "key-AAAA-1111"
    assert "X-BH-TOKEN" not in token_request.headers
    params = token_request.url.params
    assert set(params) == {"timestamp", "signature"}
    timestamp = params["timestamp"]
    assert timestamp.isdigit() and before <= int(timestamp) <= after  # milliseconds
    expected = hmac.new(b"secret-BBBB-2222", f"timestamp={timestamp}".encode(), hashlib.sha256).hexdigest()
    assert params["signature"] == expected
    assert all(r.headers["X-BH-TOKEN"] == "tok-1234-5678" for r in seen if r is not token_request)


def test_one_token_serves_every_call(sandbox: Sandbox) -> None:
    for _ in range(3):
        velafi.list_webhooks()
    assert token_requests(sandbox) == 1


def test_threads_share_one_token_request(sandbox: Sandbox) -> None:
    errors = in_threads(velafi.list_webhooks)
    assert errors == []
    assert token_requests(sandbox) == 1


def test_an_expired_token_is_renewed_once(sandbox: Sandbox) -> None:
    velafi.list_webhooks()
    app(sandbox).expire_tokens()
    velafi.list_webhooks()
    assert token_requests(sandbox) == 2
    statuses = [e["status"] for e in sandbox.journal]
    assert statuses.count(200) == len(statuses)  # the expiry came as code -1005 in an HTTP 200


def test_a_revoked_token_401_is_renewed(sandbox: Sandbox) -> None:
    velafi.list_webhooks()
    app(sandbox).data["tokens"].clear()
    velafi.list_webhooks()
    assert token_requests(sandbox) == 2
    assert 401 in [e["status"] for e in sandbox.journal]


def test_the_token_is_renewed_before_it_expires(sandbox: Sandbox, clock: FakeClock) -> None:
    velafi.list_webhooks()
    clock.advance(VelaFiApp.TOKEN_LIFETIME - velafi.TOKEN_SKEW / 2)  # the client's clock: the sandbox's token is valid
    velafi.list_webhooks()
    assert token_requests(sandbox) == 2
    assert all(e["status"] == 200 for e in sandbox.journal)  # renewed ahead: no refused call


def test_a_short_lived_token_is_renewed_half_way() -> None:
    now = time.time()
    assert velafi._renewal_time(str(int((now + 7200) * 1000)), 60) == pytest.approx(now + 7200, abs=0.01)
    assert velafi._renewal_time(str(int((now + 30) * 1000)), 60) == pytest.approx(now + 75, abs=1)
    assert velafi._renewal_time("garbage", 60) == pytest.approx(now + 300, abs=1)
    assert velafi._renewal_time(None, 60) == pytest.approx(now + 300, abs=1)
    assert velafi._renewal_time(str(int((now - 10) * 1000)), 60) == pytest.approx(now + 300, abs=1)


def test_wrong_credentials_are_an_authentication_error_without_the_secret(sandbox: Sandbox) -> None:
    wrong = "x" + VelaFiApp.API_SECRET
    _config.set_stack_config({**sandbox.stack_config(), "velafi:apiSecret": wrong})
    with pytest.raises(AuthenticationError) as raised:
        velafi.list_webhooks()
    assert raised.value.code == str(velafi.CODE_INVALID_SIGNATURE)
    text = str(raised.value)
    assert wrong not in text and VelaFiApp.API_KEY not in text
    assert "velafi:apiSecret" in text

    _config.set_stack_config({**sandbox.stack_config(), "velafi:apiKey": "someone-else"})
    with pytest.raises(AuthenticationError) as raised:
        velafi.list_webhooks()
    assert raised.value.code == str(velafi.CODE_INVALID_API_KEY)
    assert "someone-else" not in str(raised.value)


# -- lifecycle against the sandbox ----------------------------------------------------------------------


def test_create_read_update_delete(sandbox: Sandbox) -> None:
    id_, outs = create()
    assert len(id_) == 32 and int(id_, 16) >= 0
    assert outs == {"event_type": "ORDER_WEBHOOK", "url": URL, "enabled": True, "webhook_id": id_,
                    "status": 10, "public_key": outs["public_key"], "base_url": f"{SANDBOX_URL}/velafi"}
    base64.b64decode(outs["public_key"], validate=True)

    read = PROVIDER.read(id_, {**outs, "__provider": "p"})
    assert read.id == id_
    assert read.outs == outs
    assert read.inputs == {"event_type": "ORDER_WEBHOOK", "url": URL, "enabled": True}

    news = valid(url="https://other.example.com/hook", enabled=False)
    updated = PROVIDER.update(id_, {**outs, "__provider": "p"}, PROVIDER.check({}, news).inputs)
    assert updated.outs is not None
    assert updated.outs["url"] == "https://other.example.com/hook"
    assert (updated.outs["enabled"], updated.outs["status"]) == (False, 20)
    assert updated.outs["public_key"] == outs["public_key"]
    assert app(sandbox).webhooks()[0]["status"] == 20

    PROVIDER.delete(id_, updated.outs)
    assert app(sandbox).webhooks() == []
    assert PROVIDER.read(id_, updated.outs).id == ""


def test_create_disabled_is_a_create_then_a_disable(sandbox: Sandbox) -> None:
    id_, outs = create(enabled=False)
    assert (outs["enabled"], outs["status"]) == (False, 20)
    # Before its first create, the process lists what the account holds (active, then disabled).
    assert calls(sandbox) == [("GET", "/v2/webhooks"), ("GET", "/v2/webhooks"),
                              ("POST", "/v2/webhook"), ("PUT", f"/v2/webhook/{id_}")]
    assert read(id_, outs)[1]["enabled"] is False


def test_a_failed_disable_after_create_leaves_nothing_behind(sandbox: Sandbox) -> None:
    sandbox.faults.append(Fault(provider="velafi", method="PUT", status=400))
    with pytest.raises(ApiError):
        create(enabled=False)
    assert app(sandbox).webhooks() == []


def test_read_of_a_deleted_webhook_is_gone(sandbox: Sandbox) -> None:
    id_, outs = create()
    app(sandbox).remove(id_)
    assert PROVIDER.read(id_, outs).id == ""
    assert PROVIDER.read("0" * 32, {}).id == ""


def test_delete_of_a_gone_webhook_succeeds(sandbox: Sandbox) -> None:
    id_, outs = create()
    app(sandbox).remove(id_)
    PROVIDER.delete(id_, outs)
    PROVIDER.delete("f" * 32, {})


def test_update_of_a_gone_webhook_says_to_refresh(sandbox: Sandbox) -> None:
    id_, outs = create()
    app(sandbox).remove(id_)
    with pytest.raises(WebhookError, match="pulumi refresh"):
        PROVIDER.update(id_, outs, PROVIDER.check({}, valid(url="https://x.example.com")).inputs)


def test_refresh_sees_dashboard_changes(sandbox: Sandbox) -> None:
    id_, outs = create()
    app(sandbox).edit(id_, {"url": "https://dashboard.example.com/h", "status": 20})
    _, read_outs, read_inputs = read(id_, outs)
    assert read_inputs == {"event_type": "ORDER_WEBHOOK", "url": "https://dashboard.example.com/h",
                           "enabled": False}
    assert read_outs["status"] == 20
    assert PROVIDER.diff(id_, read_outs, valid()).changes is True


def test_the_sandbox_shows_status_1_and_the_client_reads_it_as_active(sandbox: Sandbox) -> None:
    id_, outs = create()
    assert app(sandbox).webhooks()[0]["status"] == 1  # as every example in VelaFi's docs
    assert (outs["enabled"], outs["status"]) == (True, 10)
    _, read_outs, read_inputs = read(id_, outs)
    assert (read_outs["status"], read_inputs["enabled"]) == (10, True)


def test_statuses_as_listed_are_read_tolerantly(mock_api: Any) -> None:
    hooks = {
        "10": [{"webhookId": "a" * 32, "eventType": "ORDER_WEBHOOK", "url": URL, "status": 1, "publicKey": "K1"},
               {"webhookId": "b" * 32, "eventType": "FUNDING_WEBHOOK", "url": URL, "status": 10}],
        "20": [{"webhookId": "c" * 32, "eventType": "STABLE_COIN_PAYMENT_WEBHOOK", "url": URL, "status": 20,
                "publicKey": "K3"}],
    }
    mock_api(lambda r: envelope(200, "SUCCESS", hooks[r.url.params["status"]]))
    found = dict(velafi.list_webhooks())
    assert {k: (v["enabled"], v["status"]) for k, v in found.items()} == {
        "a" * 32: (True, 10), "b" * 32: (True, 10), "c" * 32: (False, 20)}
    assert found["b" * 32]["public_key"] == ""


@pytest.mark.parametrize("enabled", [True, False])
def test_only_10_or_20_is_ever_written(mock_api: Any, enabled: bool) -> None:
    shown = {"webhookId": "a" * 32, "eventType": "ORDER_WEBHOOK", "url": URL, "status": 1, "publicKey": "K"}
    seen = mock_api(lambda r: envelope(200, "SUCCESS", {**shown, "status": 1 if enabled else 20}))
    olds = {"event_type": "ORDER_WEBHOOK", "url": URL, "enabled": not enabled, "status": 10}
    outs = PROVIDER.api_update("a" * 32, olds, velafi.WebhookArgs(event_type="ORDER_WEBHOOK", url=URL,
                                                                  enabled=enabled))
    [put] = [r for r in seen if r.method == "PUT"]
    assert json.loads(put.content) == {"url": URL, "status": 10 if enabled else 20}
    assert (outs["enabled"], outs["status"]) == (enabled, 10 if enabled else 20)


def test_the_documented_status_1_reads_as_active(sandbox: Sandbox) -> None:
    id_, outs = create()
    app(sandbox).edit(id_, {"status": 1})
    _, read_outs, _ = read(id_, {**outs, "enabled": False})
    assert (read_outs["enabled"], read_outs["status"]) == (True, 10)
    assert PROVIDER.diff(id_, read_outs, valid()).changes is False


def test_adopt_by_webhook_id_creates_nothing(sandbox: Sandbox) -> None:
    id_, _ = create()
    _lifecycle.reset_claims()  # a later operation adopts what an earlier one made
    mark = len(sandbox.journal)
    adopted = PROVIDER.create(PROVIDER.check({}, valid(webhook_id=id_)).inputs)
    assert adopted.id == id_
    assert [m for m, _ in calls(sandbox, mark)] == ["GET", "GET"]  # one listing: active, then disabled
    assert len(app(sandbox).webhooks()) == 1


def test_adopt_of_a_different_webhook_fails_listing_url_and_status_and_writes_nothing(sandbox: Sandbox) -> None:
    id_, _ = create()
    _lifecycle.reset_claims()  # a later operation adopts what an earlier one made
    mark = len(sandbox.journal)
    with pytest.raises(AdoptionError) as raised:
        PROVIDER.create(PROVIDER.check({}, valid(webhook_id=id_, url="https://new.example.com",
                                                 enabled=False)).inputs)
    assert [f for f, _, _ in raised.value.differences] == ["url", "enabled"]
    assert "enabled: live True, declared False" in str(raised.value)
    assert [m for m, _ in calls(sandbox, mark)] == ["GET"] * len(calls(sandbox, mark))
    assert app(sandbox).webhooks()[0]["url"] == URL and app(sandbox).webhooks()[0]["status"] != 20


def test_adopt_with_another_event_type_is_refused(sandbox: Sandbox) -> None:
    id_, _ = create()
    _lifecycle.reset_claims()  # a later operation adopts what an earlier one made
    with pytest.raises(AdoptionError) as raised:
        PROVIDER.create(PROVIDER.check({}, valid(webhook_id=id_, event_type="FUNDING_WEBHOOK")).inputs)
    assert raised.value.field == "event_type"
    assert "event_type: live 'ORDER_WEBHOOK', declared 'FUNDING_WEBHOOK'" in str(raised.value)


def test_adopt_of_an_unknown_id_is_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        PROVIDER.create(PROVIDER.check({}, valid(webhook_id="0" * 32)).inputs)


def test_a_create_whose_answer_was_lost_is_found_not_repeated(sandbox: Sandbox) -> None:
    sandbox.faults.append(Fault(provider="velafi", method="POST", status=503, after_commit=True, count=1))
    id_, outs = create()
    assert [h["webhookId"] for h in app(sandbox).webhooks()] == [id_]
    assert outs["public_key"]
    assert [m for m, _ in calls(sandbox)].count("POST") == 1


def test_a_lost_disabled_create_is_found_and_disabled(sandbox: Sandbox) -> None:
    sandbox.faults.append(Fault(provider="velafi", method="POST", drop=True, after_commit=True, count=1))
    id_, outs = create(enabled=False)
    assert outs["status"] == 20
    assert [(h["webhookId"], h["status"]) for h in app(sandbox).webhooks()] == [(id_, 20)]


def test_a_repeated_submit_finds_the_first_submission(sandbox: Sandbox) -> None:
    # The same create already went through a moment ago (e.g. sent again by a retrying proxy),
    # after this process listed the account before its first create.
    create(url="https://earlier.example.com")
    client = sandbox_client(sandbox, "/velafi")
    token = client.get("/v2/token/generate", params=_signed_params(),
                       headers={"X-BH-APIKEY": VelaFiApp.API_KEY}).json()["data"]["token"]
    first = client.post("/v2/webhook", json={"eventType": "ORDER_WEBHOOK", "url": URL},
                        headers={"X-BH-TOKEN": token}).json()["data"]["webhookId"]
    mark = len(sandbox.journal)
    id_, _ = create()
    assert id_ == first
    assert len(app(sandbox).webhooks()) == 2
    assert [m for m, _ in calls(sandbox, mark)].count("POST") == 1  # ours, refused as repeated


def test_a_repeated_submit_never_takes_a_webhook_the_account_held_before(sandbox: Sandbox) -> None:
    # An identical webhook made before this process's first create may be another stack's: not ours to take.
    client = sandbox_client(sandbox, "/velafi")
    token = client.get("/v2/token/generate", params=_signed_params(),
                       headers={"X-BH-APIKEY": VelaFiApp.API_KEY}).json()["data"]["token"]
    theirs = client.post("/v2/webhook", json={"eventType": "ORDER_WEBHOOK", "url": URL},
                         headers={"X-BH-TOKEN": token}).json()["data"]["webhookId"]
    # Refused as repeated until the provider's window has passed, then made: the window is the
    # sandbox's real time, so this create waits on the real clock.
    with _http.use_clients(_http.Clients(SandboxTransport(sandbox))):
        id_, _ = create()
    assert id_ != theirs
    assert {h["webhookId"] for h in app(sandbox).webhooks()} == {id_, theirs}


def _signed_params() -> dict[str, str]:
    timestamp = str(int(time.time() * 1000))
    message = f"timestamp={timestamp}".encode()
    return {"timestamp": timestamp,
            "signature": hmac.new(VelaFiApp.API_SECRET.encode(), message, hashlib.sha256).hexdigest()}


def test_list_webhooks_returns_active_and_disabled_not_deleted(sandbox: Sandbox) -> None:
    a, _ = create()
    b, _ = create(url="https://b.example.com", enabled=False)
    c, _ = create(url="https://c.example.com", event_type="FUNDING_WEBHOOK")
    app(sandbox).remove(c)
    found = dict(velafi.list_webhooks())
    assert set(found) == {a, b}
    assert found[b]["enabled"] is False and found[b]["url"] == "https://b.example.com"


def test_a_stablecoin_payment_webhook_has_the_whole_lifecycle_and_can_be_adopted(sandbox: Sandbox) -> None:
    id_, outs = create(event_type="STABLE_COIN_PAYMENT_WEBHOOK")
    assert outs["event_type"] == "STABLE_COIN_PAYMENT_WEBHOOK"
    delivery = app(sandbox).delivery(id_, None)
    assert json.loads(delivery.body)["eventType"] == "STABLE_COIN_PAYMENT_WEBHOOK"
    verify.velafi(delivery.headers, delivery.body, public_key=outs["public_key"])
    # discover prints a declaration that check accepts as it is.
    [(found_id, props)] = velafi.list_webhooks()
    code, commands = discover.declaration("velafi", found_id, props)
    assert "event_type='STABLE_COIN_PAYMENT_WEBHOOK'" in code and f"webhook_id={id_!r}" in code
    assert commands == []
    assert check(**{k: props[k] for k in ("event_type", "url", "enabled")}, webhook_id=found_id) == {}
    PROVIDER.delete(id_, outs)
    assert app(sandbox).webhooks() == []


def test_deliveries_verify_with_the_public_key_output(sandbox: Sandbox) -> None:
    id_, outs = create()
    delivery = app(sandbox).delivery(id_, None)
    verify.velafi(delivery.headers, delivery.body, public_key=outs["public_key"])
    assert json.loads(delivery.body)["eventType"] == "ORDER_WEBHOOK"
    _, other_outs = create(url="https://other.example.com")
    with pytest.raises(verify.SignatureError):
        verify.velafi(delivery.headers, delivery.body, public_key=other_outs["public_key"])


def test_the_provider_holds_no_state() -> None:
    provider = velafi.VelaFiWebhookProvider()
    assert vars(provider) == {}
    assert pickle.loads(pickle.dumps(provider)).__class__ is velafi.VelaFiWebhookProvider
    assert velafi.Webhook._provider_class is velafi.VelaFiWebhookProvider
    assert velafi.VelaFiWebhookProvider.secret_properties == ()


@pytest.mark.usefixtures("unconfigured")
def test_connection_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert velafi.CONNECTION.resolve().base_url == "https://api.velafi.com"
    monkeypatch.setenv("VELAFI_ENVIRONMENT", "sandbox")
    assert velafi.CONNECTION.resolve().base_url == "https://api-test.velafi.com"
    _config.set_stack_config({"velafi:baseUrl": "http://127.0.0.1:9/velafi/"})
    assert velafi.CONNECTION.resolve().base_url == "http://127.0.0.1:9/velafi"
    assert {s.key for s in velafi.CONNECTION.settings if s.secret} == {"apiKey", "apiSecret"}


# -- program under mocks ----------------------------------------------------------------------------------


def _mocked(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
    id_ = f"{args.name}-id"
    return id_, {"webhook_id": id_, "status": 20, "public_key": "MIIBmock"}


def test_the_resource_builds_and_pickles_its_provider_under_mocks() -> None:
    with pulumi_mocks(_mocked) as resources:
        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def build() -> pulumi.Output[None]:
            hook = velafi.Webhook("hook", event_type="ORDER_WEBHOOK", url=URL, enabled=False)

            def outputs(values: list[Any]) -> None:
                assert values == ["hook-id", 20, "MIIBmock", False, "ORDER_WEBHOOK", URL]

            return pulumi.Output.all(hook.webhook_id, hook.status, hook.public_key, hook.enabled,
                                     hook.event_type, hook.url).apply(outputs)

        build()
    [args] = resources
    assert args.typ == "pulumi-python:dynamic/velafi:Webhook"
    assert args.inputs["declared_urn"] == "urn:pulumi:stack::project::pulumi-webhooks:velafi.Webhook::hook"
    assert {k: v for k, v in args.inputs.items() if k not in {"__provider", "declared_urn"}} == {
        "event_type": "ORDER_WEBHOOK", "url": URL, "enabled": False}
    provider, serialized = pickled_provider(args)
    assert type(provider) is velafi.VelaFiWebhookProvider and vars(provider) == {}
    assert len(serialized) < 1000  # by reference, not by value


def test_a_repeated_submit_backs_off_a_whole_second() -> None:
    dialect = velafi.VelaFiDialect()
    refused = httpx.Response(200, json={"code": -1174, "msg": "REPEATED_SUBMIT_REQUEST"})
    assert dialect.retry_after(refused) == 1.0
    later = httpx.Response(200, headers={"Retry-After": "3"}, json={"code": "-1174"})
    assert dialect.retry_after(later) == 3.0
    assert dialect.retry_after(httpx.Response(503, json={"code": 1})) is None
