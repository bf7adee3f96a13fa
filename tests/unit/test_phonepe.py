"""PhonePe webhooks: rules, diffs, errors, tokens and the lifecycle against the in-process sandbox."""

from __future__ import annotations

import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from pulumi_webhooks import _config, _http, _lifecycle, phonepe
from pulumi_webhooks._errors import (
    AdoptionError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    InputError,
    LimitError,
    NotFoundError,
    RejectedError,
    TransientError,
    WebhookError,
)
from pulumi_webhooks._http import ApiClient, RetryPolicy
from pulumi_webhooks._lifecycle import UNKNOWN
from pulumi_webhooks.discover import declaration
from pulumi_webhooks.phonepe import (
    CONNECTION,
    CreateWebhookRequest,
    PhonePeAuth,
    PhonePeDialect,
    PhonePeWebhookProvider,
    Webhook,
    WebhookArgs,
    client_version,
    list_webhooks,
    token_url,
)
from pulumi_webhooks.sandbox import Fault, Sandbox
from pulumi_webhooks.sandbox.phonepe import CLIENT_SECRET

from ..helpers import FakeClock, failures_by_field, in_threads

ARGS: dict[str, Any] = {
    "url": "https://hooks.example.com/phonepe",
    "events": ["pg.order.failed", "pg.order.completed"],
    "username": "merchant01",
    "password": "Sup3rSecret",
    "description": "orders",
}


@pytest.fixture
def provider() -> PhonePeWebhookProvider:
    return PhonePeWebhookProvider()


def failures(provider: PhonePeWebhookProvider, **news: Any) -> dict[str, str]:
    return failures_by_field(provider.check({}, {**ARGS, **news, "__provider": "p"}).failures)


def remote(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {h["id"]: h for h in sandbox.apps["phonepe"].webhooks()}


def calls(sandbox: Sandbox, method: str | None = None, needle: str = "") -> list[dict[str, Any]]:
    return [e for e in sandbox.journal
            if e["provider"] == "phonepe" and (method is None or e["method"] == method) and needle in e["path"]]


@dataclass
class Made:
    id: str
    outs: dict[str, Any]


def made(provider: PhonePeWebhookProvider, props: dict[str, Any]) -> Made:
    """``provider.create`` with its outputs, which a create always has."""
    result = provider.create(props)
    assert result.outs is not None
    return Made(result.id, result.outs)


def token_requests(sandbox: Sandbox) -> int:
    return len(calls(sandbox, "POST", "/oauth/token"))


# -- check -------------------------------------------------------------------------------------


def test_check_normalises_and_fills_defaults(provider: PhonePeWebhookProvider) -> None:
    result = provider.check({}, {"url": " https://hooks.example.com/p ", "username": "merchant01",
                                 "password": "Sup3rSecret",
                                 "events": ["pg.refund.failed", "pg.order.completed", "pg.refund.failed"]})
    assert result.failures == []
    assert result.inputs["url"] == "https://hooks.example.com/p"
    assert result.inputs["events"] == ["pg.order.completed", "pg.refund.failed"]
    assert result.inputs["description"] == ""
    assert result.inputs["enabled"] is True
    assert result.inputs["webhook_id"] is None


@pytest.mark.parametrize("event", ["pg.refund.accepted", "pg.transaction.failed", "paylink.order.completed",
                                   "paylink.order.failed", "subscription.paused", "subscription.setup.order.failed",
                                   "subscription.redemption.transaction.completed", "checkout.order.failed"])
def test_events_of_every_product_page_are_accepted(provider: PhonePeWebhookProvider, event: str) -> None:
    assert failures(provider, events=[event]) == {}


def test_required_arguments(provider: PhonePeWebhookProvider) -> None:
    result = provider.check({}, {"description": "x"})
    reasons = failures_by_field(result.failures)
    assert reasons == {"url": "is required", "events": "is required", "username": "is required",
                       "password": "is required"}


def test_url_must_be_https(provider: PhonePeWebhookProvider) -> None:
    assert "https://" in failures(provider, url="http://hooks.example.com/phonepe")["url"]
    assert "host" in failures(provider, url="https:///nohost")["url"]


@pytest.mark.parametrize(("username", "rule"), [
    ("abcd", "5 to 20 characters"),
    ("a" * 21, "5 to 20 characters"),
    ("a_b_", "5 to 20 characters"),
    ("mérchant01", "only letters, digits and underscores"),
    ("merchant 1", "only letters, digits and underscores"),
    ("merchant-01", "only letters, digits and underscores"),
    ("merchant.01", "only letters, digits and underscores"),
    ("merchant01\n", "only letters, digits and underscores"),
    ("merchant\uff101", "only letters, digits and underscores"),  # a full-width digit is not 0-9
])
def test_username_rule(provider: PhonePeWebhookProvider, username: str, rule: str) -> None:
    assert rule in failures(provider, username=username)["username"]


# PhonePe's dashboard pages allow underscores, so a webhook may hold one: adopting it must pass check.
@pytest.mark.parametrize("username", ["abcde", "A" * 20, "12345", "Merchant2024", "merchant_01", "_____",
                                      "a_b_c", "MERCHANT_2024_ORDERS"])
def test_username_accepted(provider: PhonePeWebhookProvider, username: str) -> None:
    assert failures(provider, username=username) == {}
    assert failures(provider, username=username, webhook_id="CF2410212252436169514926") == {}


@pytest.mark.parametrize(("password", "rule"), [
    ("Abc1234", "8 to 20 characters"),
    ("Abc12345" * 3, "8 to 20 characters"),
    ("Abc12345!", "only letters and digits"),
    ("Abc 12345", "only letters and digits"),
    ("abcdefghij", "both letters and digits"),
    ("1234567890", "both letters and digits"),
])
def test_password_rule_never_echoes_the_password(provider: PhonePeWebhookProvider, password: str, rule: str) -> None:
    reason = failures(provider, password=password)["password"]
    assert rule in reason
    assert password not in reason


@pytest.mark.parametrize("password", ["abcdefg1", "1234567a", "A1" * 10])
def test_password_accepted(provider: PhonePeWebhookProvider, password: str) -> None:
    assert failures(provider, password=password) == {}


def test_events_rules_and_did_you_mean(provider: PhonePeWebhookProvider) -> None:
    assert "at least 1 event" in failures(provider, events=[])["events"]
    assert "list of event names" in failures(provider, events="pg.order.completed")["events"]
    near = failures(provider, events=["pg.order.complete"])["events"]
    assert "did you mean 'pg.order.completed'" in near
    assert "unknown event 'payment.done'" in failures(provider, events=["payment.done"])["events"]


def test_other_rules(provider: PhonePeWebhookProvider) -> None:
    assert "must be true or false" in failures(provider, enabled="maybe")["enabled"]
    assert "must be true or false" in failures(provider, enabled="false")["enabled"]
    assert "webhook id" in failures(provider, webhook_id="../other")["webhook_id"]
    assert failures(provider, webhook_id="CF2410212252436169514926") == {}
    assert failures(provider, description=42) != {}


def test_credentials_are_not_arguments(provider: PhonePeWebhookProvider) -> None:
    reasons = failures(provider, clientSecret="x", clientId="y")
    assert reasons == {"clientSecret": "is not an argument of this resource",
                       "clientId": "is not an argument of this resource"}


def test_unknown_values_pass_check(provider: PhonePeWebhookProvider) -> None:
    news = {name: UNKNOWN for name in ("url", "username", "password", "description", "enabled", "webhook_id")}
    result = provider.check({}, {**news, "events": [UNKNOWN, "pg.order.completed"]})
    assert result.failures == []
    assert result.inputs["url"] == UNKNOWN and result.inputs["enabled"] == UNKNOWN
    assert provider.check({}, {**ARGS, "events": UNKNOWN}).failures == []


# -- diff --------------------------------------------------------------------------------------


def olds() -> dict[str, Any]:
    return {**ARGS, "events": ["pg.order.completed", "pg.order.failed"], "enabled": True, "webhook_id": "CF1",
            "created_at": 1729531363628, "updated_at": 1729531363632, "__provider": "p"}


def test_unchanged_order_and_duplicates_are_no_change(provider: PhonePeWebhookProvider) -> None:
    assert provider.diff("CF1", olds(), dict(ARGS)).changes is False
    shuffled = {**ARGS, "events": ["pg.order.failed", "pg.order.completed", "pg.order.failed"]}
    assert provider.diff("CF1", olds(), shuffled).changes is False
    defaults = {**ARGS, "enabled": True, "description": "orders", "webhook_id": "CF1"}
    assert provider.diff("CF1", olds(), defaults).changes is False


@pytest.mark.parametrize(("field", "value"), [
    ("url", "https://hooks.example.com/other"),
    ("events", ["pg.refund.completed"]),
    ("username", "merchant02"),
    ("password", "N3wSecret99"),
    ("description", "refunds"),
    ("enabled", False),
])
def test_every_argument_changes_in_place(provider: PhonePeWebhookProvider, field: str, value: Any) -> None:
    result = provider.diff("CF1", olds(), {**ARGS, field: value})
    assert result.changes is True
    assert result.replaces == []
    assert result.stables == ["webhook_id"]


def test_description_default_counts_as_a_change_from_a_value(provider: PhonePeWebhookProvider) -> None:
    news = {k: v for k, v in ARGS.items() if k != "description"}
    assert provider.diff("CF1", olds(), news).changes is True


def test_another_webhook_id_replaces(provider: PhonePeWebhookProvider) -> None:
    assert provider.diff("CF1", olds(), {**ARGS, "webhook_id": "CF2"}).replaces == ["webhook_id"]


def test_unknowns_are_changes_during_preview(provider: PhonePeWebhookProvider) -> None:
    result = provider.diff("CF1", olds(), {**ARGS, "password": UNKNOWN})
    assert result.changes is True and result.replaces == []


# -- connection and tokens -----------------------------------------------------------------------


# PhonePe's documented token endpoints, written out (developer.phonepe.com, "Fetch Auth Token API").
PRODUCTION_TOKEN_URL = "https://api.phonepe.com/apis/identity-manager/v1/oauth/token"
SANDBOX_TOKEN_URL = "https://api-preprod.phonepe.com/apis/pg-sandbox/v1/oauth/token"


def resolved_token_url(**config: str) -> str:
    _config.set_stack_config({f"phonepe:{k}": v for k, v in config.items()})
    return token_url(CONNECTION.resolve())


@pytest.mark.usefixtures("unconfigured")
def test_token_url_without_base_url_is_the_environments_documented_one() -> None:
    assert resolved_token_url() == PRODUCTION_TOKEN_URL
    assert resolved_token_url(environment="production") == PRODUCTION_TOKEN_URL
    assert resolved_token_url(environment="sandbox") == SANDBOX_TOKEN_URL


@pytest.mark.usefixtures("unconfigured")
def test_environment_variables_choose_the_token_url_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONEPE_ENVIRONMENT", "sandbox")
    conn = CONNECTION.resolve()
    assert conn.base_url == "https://api-preprod.phonepe.com/apis/pg-sandbox"
    assert token_url(conn) == SANDBOX_TOKEN_URL
    monkeypatch.setenv("PHONEPE_BASE_URL", "https://api.phonepe.com/apis/pg")
    assert token_url(CONNECTION.resolve()) == PRODUCTION_TOKEN_URL
    monkeypatch.setenv("PHONEPE_AUTH_URL", "http://127.0.0.1:8/oauth/token")
    assert token_url(CONNECTION.resolve()) == "http://127.0.0.1:8/oauth/token"


@pytest.mark.parametrize("base_url", [
    "https://api.phonepe.com/apis/pg",
    "https://api.phonepe.com/apis/pg/",
    "https://API.PhonePe.COM/apis/pg",
    "https://api.phonepe.com:443/apis/pg//",
])
@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_the_documented_production_host_gets_identity_manager_tokens(base_url: str, environment: str) -> None:
    # Production serves webhooks under /apis/pg and tokens under /apis/identity-manager: deriving the
    # token URL from the base URL would ask /apis/pg/v1/oauth/token, which is not PhonePe's.
    assert resolved_token_url(baseUrl=base_url, environment=environment) == PRODUCTION_TOKEN_URL


@pytest.mark.parametrize("base_url", [
    "https://api-preprod.phonepe.com/apis/pg-sandbox",
    "https://API-PREPROD.phonepe.com/apis/pg-sandbox/",
])
@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_the_documented_sandbox_host_gets_its_documented_token_url(base_url: str, environment: str) -> None:
    assert resolved_token_url(baseUrl=base_url, environment=environment) == SANDBOX_TOKEN_URL


@pytest.mark.parametrize(("base_url", "expected"), [
    ("http://127.0.0.1:9/phonepe/", "http://127.0.0.1:9/phonepe/v1/oauth/token"),
    ("https://phonepe.internal.example/apis/pg", "https://phonepe.internal.example/apis/pg/v1/oauth/token"),
    # Not PhonePe's documented hosts: another scheme, port or path (paths keep their case).
    ("http://api.phonepe.com/apis/pg", "http://api.phonepe.com/apis/pg/v1/oauth/token"),
    ("https://api.phonepe.com:8443/apis/pg", "https://api.phonepe.com:8443/apis/pg/v1/oauth/token"),
    ("https://api.phonepe.com/APIS/PG", "https://api.phonepe.com/APIS/PG/v1/oauth/token"),
    ("https://api.phonepe.com/apis/pg-sandbox", "https://api.phonepe.com/apis/pg-sandbox/v1/oauth/token"),
])
def test_any_other_base_url_serves_tokens_under_itself(base_url: str, expected: str) -> None:
    assert resolved_token_url(baseUrl=base_url) == expected
    assert resolved_token_url(baseUrl=base_url, environment="sandbox") == expected


def test_auth_url_wins_over_everything() -> None:
    local = "http://127.0.0.1:8/oauth/token"
    assert resolved_token_url(authUrl=local) == local
    assert resolved_token_url(authUrl=f"{local}/", environment="sandbox") == local
    assert resolved_token_url(authUrl=local, baseUrl="https://api.phonepe.com/apis/pg") == local
    assert resolved_token_url(authUrl=local, baseUrl="http://127.0.0.1:9/phonepe") == local


@pytest.mark.parametrize("auth_url", ["ftp://x", "api.phonepe.com/v1/oauth/token", "https://"])
def test_auth_url_must_be_an_http_url(auth_url: str) -> None:
    with pytest.raises(ConfigurationError, match="phonepe:authUrl"):
        resolved_token_url(authUrl=auth_url)


def test_client_version_defaults_only_in_the_sandbox_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"phonepe:clientVersion.*PHONEPE_CLIENT_VERSION"):
        client_version(CONNECTION.resolve())
    monkeypatch.setenv("PHONEPE_ENVIRONMENT", "sandbox")
    assert client_version(CONNECTION.resolve()) == "1"
    monkeypatch.setenv("PHONEPE_CLIENT_VERSION", "3")
    assert client_version(CONNECTION.resolve()) == "3"


def test_credentials_are_secret_settings() -> None:
    secret = {s.key for s in CONNECTION.settings if s.secret}
    assert secret == {"clientId", "clientSecret"}


@pytest.mark.usefixtures("unconfigured")
def test_missing_credentials_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    _config.set_stack_config({"phonepe:baseUrl": "http://127.0.0.1:9/phonepe", "phonepe:clientVersion": "1"})
    with pytest.raises(ConfigurationError, match=r"pulumi config set --secret phonepe:clientId.*PHONEPE_CLIENT_ID"):
        phonepe.list_webhooks()


class FakePhonePe:
    """A scripted PhonePe behind httpx.MockTransport: counts tokens, answers the list call."""

    def __init__(self, lifetime: float = 3600, api: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.lifetime = lifetime
        self.issued: list[str] = []
        self.forms: list[dict[str, list[str]]] = []
        self.seen_auth: list[str] = []
        self.api = api
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/oauth/token"):
            with self.lock:
                token = f"tok{len(self.issued) + 1}-abcdef"
                self.issued.append(token)
                self.forms.append(parse_qs(request.content.decode()))
            time.sleep(0.01)  # widen the window for racing threads
            return httpx.Response(200, json={"access_token": token, "token_type": "O-Bearer",
                                             "expires_at": int(time.time() + self.lifetime), "expires_in": None})
        self.seen_auth.append(request.headers.get("Authorization", ""))
        if self.api is not None:
            return self.api(request)
        return httpx.Response(200, json={"webhooks": []})


@pytest.fixture
def fake_env() -> Iterator[None]:
    _config.set_stack_config({
        "phonepe:baseUrl": "https://phonepe.invalid/apis/pg", "phonepe:clientId": "CLIENTID42",
        "phonepe:clientSecret": "client-secret-value-1", "phonepe:clientVersion": "7",
    })
    yield


def use(fake: FakePhonePe) -> Any:
    return _http.use_clients(_http.Clients(httpx.MockTransport(fake)))


def test_token_request_is_the_documented_form_and_header(fake_env: None) -> None:
    fake = FakePhonePe()
    with use(fake):
        list_webhooks()
    assert fake.forms == [{"client_id": ["CLIENTID42"], "client_version": ["7"],
                           "client_secret": ["client-secret-value-1"], "grant_type": ["client_credentials"]}]
    assert fake.seen_auth == ["O-Bearer tok1-abcdef"]


@pytest.mark.parametrize(("base_url", "token_at", "webhooks_at"), [
    ("https://api.phonepe.com/apis/pg/", PRODUCTION_TOKEN_URL, "https://api.phonepe.com/apis/pg/configs/v1/webhooks"),
    ("https://api-preprod.phonepe.com/apis/pg-sandbox", SANDBOX_TOKEN_URL,
     "https://api-preprod.phonepe.com/apis/pg-sandbox/configs/v1/webhooks"),
    ("https://phonepe.invalid/base", "https://phonepe.invalid/base/v1/oauth/token",
     "https://phonepe.invalid/base/configs/v1/webhooks"),
])
def test_requests_go_where_the_token_url_rule_says(base_url: str, token_at: str, webhooks_at: str) -> None:
    _config.set_stack_config({"phonepe:baseUrl": base_url, "phonepe:clientId": "CLIENTID42",
                              "phonepe:clientSecret": "client-secret-value-1", "phonepe:clientVersion": "7"})
    sent: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        sent.append((request.method, url))
        if url == token_at:
            return httpx.Response(200, json={"access_token": "tok-abcdef", "token_type": "O-Bearer",
                                             "expires_at": int(time.time()) + 3600})
        if url == webhooks_at:
            return httpx.Response(200, json={"webhooks": []})
        return httpx.Response(404, json={"code": "BAD_REQUEST", "message": "no such API"})

    with _http.use_clients(_http.Clients(httpx.MockTransport(handler))):
        assert list_webhooks() == []
    assert sent == [("POST", token_at), ("GET", webhooks_at)]


def test_one_token_per_credential_shared_by_threads(fake_env: None) -> None:
    fake = FakePhonePe()

    def work() -> None:
        for _ in range(5):
            list_webhooks()

    with use(fake):
        errors = in_threads(work)
    assert errors == []
    assert fake.issued == ["tok1-abcdef"]
    assert len(fake.seen_auth) == 40


def test_another_credential_gets_its_own_token(fake_env: None) -> None:
    fake = FakePhonePe()
    with use(fake):
        list_webhooks()
        _config.set_stack_config({"phonepe:baseUrl": "https://phonepe.invalid/apis/pg",
                                  "phonepe:clientId": "CLIENTID43", "phonepe:clientSecret": "client-secret-value-2",
                                  "phonepe:clientVersion": "7"})
        list_webhooks()
        list_webhooks()
    assert len(fake.issued) == 2


def test_token_is_renewed_shortly_before_expires_at(fake_env: None) -> None:
    fake = FakePhonePe(lifetime=30)  # inside the one-minute margin: every call needs a new one
    with use(fake):
        list_webhooks()
        list_webhooks()
    assert len(fake.issued) == 2


def _refuse_the_first_token(request: httpx.Request) -> httpx.Response:
    if request.headers["Authorization"] == "O-Bearer tok1-abcdef":
        return httpx.Response(401, json={"code": "AUTHORIZATION_FAILED", "message": "token expired"})
    return httpx.Response(200, json={"webhooks": []})


def test_a_401_renews_once_then_succeeds(fake_env: None) -> None:
    fake = FakePhonePe(api=_refuse_the_first_token)
    with use(fake):
        assert list_webhooks() == []
    assert fake.issued == ["tok1-abcdef", "tok2-abcdef"]


def test_a_persistent_401_is_an_authentication_error_after_the_renewals_the_cap_allows(fake_env: None) -> None:
    fake = FakePhonePe(api=lambda r: httpx.Response(401, json={
        "code": "AUTHORIZATION_FAILED",
        "message": "Authorization failed [message = Please check the authorization token and try again]"}))
    with use(fake), pytest.raises(AuthenticationError) as caught:
        list_webhooks()
    # Each fresh token refused as well: renewed until the attempt cap, never more.
    assert len(fake.issued) == RetryPolicy.attempts and len(fake.seen_auth) == RetryPolicy.attempts
    error = caught.value
    assert (error.provider, error.operation, error.status, error.code) == (
        "PhonePe", "list webhooks", 401, "AUTHORIZATION_FAILED")
    assert "phonepe:clientSecret" in str(error)


def test_concurrent_401s_of_one_token_fetch_one_new_token(fake_env: None) -> None:
    fake = FakePhonePe(api=_refuse_the_first_token)
    with use(fake):
        errors = in_threads(list_webhooks, together=True)
    assert errors == []
    assert fake.issued == ["tok1-abcdef", "tok2-abcdef"]


def test_tokens_are_redacted_from_errors(fake_env: None) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].split()[-1]
        return httpx.Response(400, json={"code": "BAD_REQUEST",
                                         "message": f"bad token {token} for CLIENTID42 / client-secret-value-1"})

    with use(FakePhonePe(api=api)), pytest.raises(ApiError) as caught:
        list_webhooks()
    text = str(caught.value)
    assert "tok1-abcdef" not in text and "CLIENTID42" not in text and "client-secret-value-1" not in text
    assert text.count("***") == 3


# -- error mapping ---------------------------------------------------------------------------------


def mock_client(handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock | None = None) -> ApiClient:
    _config.set_stack_config({"phonepe:baseUrl": "https://phonepe.invalid", "phonepe:clientId": "CID12",
                              "phonepe:clientSecret": "csecret-123", "phonepe:clientVersion": "1"})
    conn = CONNECTION.resolve()
    policy = RetryPolicy(deadline=0.3, base_delay=0.01, max_delay=0.02, clock=clock or FakeClock())
    client = ApiClient(conn, PhonePeDialect(), policy=policy)
    client.http = httpx.Client(base_url=conn.base_url, transport=httpx.MockTransport(handler))
    return client


def answer(status: int, code: str, message: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda r: httpx.Response(status, json={"code": code, "message": message})


def test_bad_request_maps_to_api_error_with_every_detail() -> None:
    client = mock_client(answer(400, "BAD_REQUEST", "events must not be empty"))
    with pytest.raises(ApiError) as caught:
        client.request("create webhook", "POST", "/configs/v1/webhooks", json_body={})
    error = caught.value
    assert type(error) is RejectedError
    assert (error.provider, error.operation, error.status, error.code, error.message) == (
        "PhonePe", "create webhook", 400, "BAD_REQUEST", "events must not be empty")
    assert str(error) == "PhonePe: create webhook failed (HTTP 400 BAD_REQUEST: events must not be empty)"


def test_internal_server_error_is_transient_whatever_the_status() -> None:
    message = "There is an error trying to process your transaction at the moment. Please try again in a while."
    for status in (500, 400):
        client = mock_client(answer(status, "INTERNAL_SERVER_ERROR", message))
        with pytest.raises(TransientError) as caught:
            client.request("list webhooks", "GET", "/configs/v1/webhooks")
        assert caught.value.code == "INTERNAL_SERVER_ERROR" and caught.value.status == status


def test_not_found_answers() -> None:
    for status, message in ((404, "Not Found"), (400, "Webhook CF1 not found")):
        client = mock_client(answer(status, "BAD_REQUEST", message))
        with pytest.raises(NotFoundError):
            client.request("delete webhook CF1", "DELETE", "/configs/v1/webhooks/CF1")


def test_an_envelope_without_json_still_maps() -> None:
    client = mock_client(lambda r: httpx.Response(403, text="<html>denied</html>"))
    with pytest.raises(AuthenticationError) as caught:
        client.request("list webhooks", "GET", "/configs/v1/webhooks")
    assert caught.value.status == 403 and caught.value.code is None


def test_sensitive_values_and_credentials_are_redacted() -> None:
    client = mock_client(answer(400, "BAD_REQUEST", "password Sup3rSecret rejected for csecret-123"))
    with pytest.raises(ApiError) as caught:
        client.request("update webhook CF1", "PUT", "/configs/v1/webhooks/CF1", json_body={},
                       sensitive=["Sup3rSecret"])
    assert caught.value.message == "password *** rejected for ***"


# -- the lifecycle against the sandbox -----------------------------------------------------------------


def test_create_read_update_delete(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    created = made(provider, {**ARGS, "__provider": "p"})
    assert created.id.startswith("CF") and len(created.id) == 24
    outs = created.outs
    assert outs["webhook_id"] == created.id
    assert outs["events"] == ["pg.order.completed", "pg.order.failed"]
    assert outs["enabled"] is True and outs["password"] == "Sup3rSecret"
    assert isinstance(outs["created_at"], int) and isinstance(outs["updated_at"], int)
    # One list first (what the account held before this process's first create), then the POST.
    assert [e["method"] for e in calls(sandbox) if "token" not in e["path"]] == ["GET", "POST"]
    assert remote(sandbox)[created.id]["url"] == ARGS["url"]

    read = provider.read(created.id, {**outs, "__provider": "p"})
    assert read.id == created.id and read.outs == outs
    assert read.inputs is not None and "webhook_id" not in read.inputs

    news = {**ARGS, "url": "https://hooks.example.com/v2", "password": "An0therOne", "enabled": False}
    updated = provider.update(created.id, {**outs, "__provider": "p"}, news)
    assert updated.outs is not None
    assert updated.outs["url"] == "https://hooks.example.com/v2" and updated.outs["enabled"] is False
    assert updated.outs["password"] == "An0therOne"
    assert updated.outs["created_at"] == outs["created_at"] and updated.outs["updated_at"] > outs["updated_at"]
    assert remote(sandbox)[created.id]["enabled"] is False
    assert calls(sandbox)[-1]["method"] == "PUT"

    provider.delete(created.id, updated.outs)
    assert remote(sandbox) == {}
    assert provider.read(created.id, updated.outs).id == ""
    provider.delete(created.id, updated.outs)  # already gone: success
    assert token_requests(sandbox) == 1


def test_create_disabled_creates_then_disables(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    created = made(provider, {**ARGS, "enabled": False})
    assert [e["method"] for e in calls(sandbox) if "token" not in e["path"]] == ["GET", "POST", "PUT"]
    assert remote(sandbox)[created.id]["enabled"] is False
    assert created.outs["enabled"] is False


def test_a_disable_that_fails_removes_the_new_webhook(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    sandbox.faults.append(Fault(provider="phonepe", method="PUT", status=400, count=1))
    with pytest.raises(ApiError):
        made(provider, {**ARGS, "enabled": False})
    assert remote(sandbox) == {}


def test_refresh_sees_dashboard_changes_including_the_password(
    sandbox: Sandbox, provider: PhonePeWebhookProvider
) -> None:
    created = made(provider, dict(ARGS))
    sandbox.apps["phonepe"].edit(created.id, {"password": "Dashb0ard1", "events": ["pg.refund.completed"],
                                              "enabled": False})
    read = provider.read(created.id, created.outs)
    assert read.outs is not None
    assert read.outs["password"] == "Dashb0ard1" and read.outs["enabled"] is False
    assert read.inputs is not None
    assert read.inputs["password"] == "Dashb0ard1" and read.inputs["events"] == ["pg.refund.completed"]
    # The declaration still says otherwise: the next up changes it back, in place.
    diff = provider.diff(created.id, read.outs, dict(ARGS))
    assert diff.changes is True and diff.replaces == []


def test_update_of_a_deleted_webhook_says_refresh(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    created = made(provider, dict(ARGS))
    sandbox.apps["phonepe"].remove(created.id)
    with pytest.raises(WebhookError, match="pulumi refresh"):
        provider.update(created.id, created.outs, {**ARGS, "description": "new"})


def test_invalid_input_never_reaches_the_api(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    with pytest.raises(InputError, match="password"):
        made(provider, {**ARGS, "password": "short"})
    assert calls(sandbox) == []


def test_the_thirty_webhook_limit_is_a_limit_error(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    for i in range(30):
        made(provider, {**ARGS, "url": f"https://hooks.example.com/{i}"})
    with pytest.raises(LimitError) as caught:
        made(provider, dict(ARGS))
    error = caught.value
    assert (error.provider, error.operation, error.status, error.code) == ("PhonePe", "create webhook", 400,
                                                                          "BAD_REQUEST")
    assert "Cannot make more than 30 webhooks" in str(error) and "webhook_id" in str(error)
    assert len(remote(sandbox)) == 30


def test_read_and_list_page_through_every_webhook(
    sandbox: Sandbox, provider: PhonePeWebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(phonepe, "PAGE_SIZE", 4)
    ids = [made(provider, {**ARGS, "url": f"https://hooks.example.com/{i}"}).id for i in range(10)]
    mark = len(sandbox.journal)
    assert provider.read(ids[-1], {}).id == ids[-1]
    pages = [e for e in sandbox.journal[mark:] if e["method"] == "GET"]
    assert len(pages) == 4  # 4 + 4 + 2 + the empty page that ends the list (shared by every read)
    listed = list_webhooks()
    assert [i for i, _ in listed] == ids
    assert listed[0][1]["url"] == "https://hooks.example.com/0" and listed[0][1]["password"] == "Sup3rSecret"


def test_adopting_an_identical_webhook_writes_nothing(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    existing = made(provider, dict(ARGS)).id
    _lifecycle.reset_claims()  # a later operation adopts what an earlier one made
    mark = len(sandbox.journal)
    adopted = made(provider, {**ARGS, "webhook_id": existing})
    assert adopted.id == existing and adopted.outs["webhook_id"] == existing
    assert [e["method"] for e in sandbox.journal[mark:]] == ["GET", "GET"]  # one listing: a page, then the end
    assert len(remote(sandbox)) == 1


def test_adopting_a_different_webhook_fails_without_showing_the_password(
    sandbox: Sandbox, provider: PhonePeWebhookProvider
) -> None:
    existing = made(provider, dict(ARGS)).id
    _lifecycle.reset_claims()  # a later operation adopts what an earlier one made
    with pytest.raises(AdoptionError) as caught:
        made(provider, {**ARGS, "password": "Adopt3dPass", "description": "refunds", "webhook_id": existing})
    message = str(caught.value)
    assert "description: live 'orders', declared 'refunds'" in message
    assert "password: the live and declared values differ" in message
    assert "Adopt3dPass" not in message and ARGS["password"] not in message
    assert remote(sandbox)[existing]["password"] == ARGS["password"]
    with pytest.raises(NotFoundError, match="does not exist"):
        made(provider, {**ARGS, "webhook_id": "CF0000000000000000000000"})


def dashboard_webhook(sandbox: Sandbox, provider: PhonePeWebhookProvider, username: str) -> str:
    """A webhook whose username was set in PhonePe's dashboard (which allows underscores)."""
    webhook_id = made(provider, dict(ARGS)).id
    sandbox.apps["phonepe"].edit(webhook_id, {"username": username})
    _lifecycle.reset_claims()  # made before the operation that adopts it
    return webhook_id


def test_adopting_a_webhook_whose_username_has_underscores(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    existing = dashboard_webhook(sandbox, provider, "merchant_01")
    declared = {**ARGS, "username": "merchant_01", "webhook_id": existing}
    assert failures(provider, username="merchant_01", webhook_id=existing) == {}
    mark = len(sandbox.journal)
    adopted = made(provider, declared)
    assert adopted.id == existing and adopted.outs["username"] == "merchant_01"
    assert {e["method"] for e in sandbox.journal[mark:]} == {"GET"}  # read only: nothing to change
    read = provider.read(existing, adopted.outs)
    assert read.inputs is not None and read.inputs["username"] == "merchant_01"
    assert provider.check({}, {**read.inputs, "__provider": "p"}).failures == []
    assert provider.diff(existing, read.outs or {}, declared).changes is False


def test_changing_such_a_webhook_reports_what_phonepe_answers(
    sandbox: Sandbox, provider: PhonePeWebhookProvider
) -> None:
    # The webhook API pages say letters and digits only, and the sandbox holds every body to them.
    existing = dashboard_webhook(sandbox, provider, "merchant_01")
    adopted = made(provider, {**ARGS, "username": "merchant_01", "webhook_id": existing})
    with pytest.raises(ApiError) as caught:
        provider.update(existing, adopted.outs, {**ARGS, "username": "merchant_01",
                                                 "url": "https://hooks.example.com/v2", "webhook_id": existing})
    error = caught.value
    assert type(error) is RejectedError and (error.status, error.code) == (400, "BAD_REQUEST")
    assert "username" in str(error) and ARGS["password"] not in str(error)
    assert remote(sandbox)[existing]["url"] == ARGS["url"]


def test_discover_declares_a_username_with_underscores(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    existing = dashboard_webhook(sandbox, provider, "shop_orders_2024")
    [(webhook_id, props)] = list_webhooks()
    code, _ = declaration("phonepe", webhook_id, props)
    assert webhook_id == existing and "username='shop_orders_2024'" in code
    declared = {k: v for k, v in props.items() if k in WebhookArgs.model_fields}
    assert failures(provider, **declared, webhook_id=webhook_id) == {}


def test_a_lost_create_never_takes_an_identical_webhook_held_before(
    sandbox: Sandbox, provider: PhonePeWebhookProvider
) -> None:
    # Another stack's webhook, declared identically, exists before this process creates anything.
    before = made(provider, dict(ARGS)).id
    _lifecycle.reset_claims()  # a new provider process: its first listing sees `before`
    sandbox.faults.append(Fault(provider="phonepe", method="POST", path="/configs/", drop=True, after_commit=True,
                                count=1))
    created = made(provider, dict(ARGS))
    assert created.id != before
    assert set(remote(sandbox)) == {before, created.id}  # the lost create's webhook, not sent twice


@pytest.mark.parametrize("enabled", [True, False])
def test_a_lost_create_answer_adopts_what_was_made(
    sandbox: Sandbox, provider: PhonePeWebhookProvider, enabled: bool
) -> None:
    made(provider, {**ARGS, "url": "https://hooks.example.com/neighbour"})
    sandbox.faults.append(Fault(provider="phonepe", method="POST", path="/configs/", drop=True, after_commit=True,
                                count=1))
    created = made(provider, {**ARGS, "enabled": enabled})
    held = remote(sandbox)
    assert len(held) == 2
    assert held[created.id]["url"] == ARGS["url"] and held[created.id]["enabled"] is enabled


def test_expired_tokens_are_renewed_once(sandbox: Sandbox) -> None:
    list_webhooks()
    sandbox.apps["phonepe"].expire_tokens()
    list_webhooks()
    assert token_requests(sandbox) == 2
    unauthorised = [e for e in calls(sandbox, "GET") if e["status"] == 401]
    assert len(unauthorised) == 1


def test_wrong_credentials_are_an_authentication_error_without_the_secret(sandbox: Sandbox) -> None:
    _config.set_stack_config({**sandbox.stack_config(), "phonepe:clientSecret": "wrong-secret-value"})
    with pytest.raises(AuthenticationError) as caught:
        list_webhooks()
    error = caught.value
    assert (error.provider, error.operation, error.status, error.code) == (
        "PhonePe", "fetch access token", 401, "AUTHORIZATION_FAILED")
    assert "wrong-secret-value" not in str(error) and CLIENT_SECRET not in str(error)
    assert "credentials" in str(error) and "phonepe:clientSecret" in str(error)
    assert "phonepe:clientId" in str(error) and "phonepe:clientVersion" in str(error)
    assert calls(sandbox, "GET") == []


def test_the_provider_holds_no_state(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    made(provider, dict(ARGS))
    assert vars(provider) == {}
    blob = pickle.dumps(provider)
    assert b"PhonePeWebhookProvider" in blob and CLIENT_SECRET.encode() not in blob and len(blob) < 200


def test_auth_is_attached_to_the_client(sandbox: Sandbox) -> None:
    client = PhonePeWebhookProvider().client()
    assert isinstance(client.auth, PhonePeAuth)
    assert PhonePeWebhookProvider().client() is client
    list_webhooks()
    [token] = [s for s in client._extra_secrets if s.startswith("sbx.")]
    assert client.redact(f"x {token} y") == "x *** y"


def test_resource_declares_outputs_and_secrets() -> None:
    provider_class = Webhook._provider_class
    assert provider_class is PhonePeWebhookProvider
    assert provider_class.secret_properties == ("password",)
    assert set(provider_class.outputs) == {"webhook_id", "created_at", "updated_at"}
    assert set(Webhook.__annotations__) >= {"webhook_id", "created_at", "updated_at", "password", "url"}
    assert set(CreateWebhookRequest.model_fields) < set(WebhookArgs.model_fields)


def test_discover_declares_the_password_from_config(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    created = made(provider, dict(ARGS))
    [(webhook_id, props)] = list_webhooks()
    code, commands = declaration("phonepe", webhook_id, props)
    assert f"webhook_id={created.id!r}" in code
    assert "username='merchant01'" in code and "Sup3rSecret" not in code
    assert "config.require_secret(" in code
    assert commands and all("Sup3rSecret" not in c for c in commands)
    json.dumps(props)  # plain JSON-able values


def test_a_refresh_of_many_webhooks_lists_once(sandbox: Sandbox, provider: PhonePeWebhookProvider) -> None:
    made_ = [made(provider, {**ARGS, "url": f"https://hooks.example.com/p{i}"}) for i in range(6)]
    _http.process_clients().close()  # the refresh runs in a provider process of its own
    mark = len(sandbox.journal)
    for created in made_:
        assert provider.read(created.id, created.outs).id == created.id
    lists = [e for e in sandbox.journal[mark:] if e["method"] == "GET" and "webhooks" in e["path"]]
    assert len(lists) == 2, lists  # one listing for six reads: a page, and the empty one that ends it
    sandbox.apps["phonepe"].edit(made_[0].id, {"url": "https://hooks.example.com/dashboard"})
    _http.process_clients().close()  # the next operation: never the listing of the one before
    assert provider.read(made_[0].id, made_[0].outs).outs["url"] == "https://hooks.example.com/dashboard"
