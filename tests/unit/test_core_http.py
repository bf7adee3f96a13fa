"""The shared HTTP machinery: retries, backoff bounds, Retry-After, token renewal, redaction."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pulumi_webhooks import _http
from pulumi_webhooks._config import Connection, ConnectionSpec, Setting
from pulumi_webhooks._errors import ApiError, AuthenticationError, NotFoundError, TransientError
from pulumi_webhooks._http import ApiClient, Dialect, RetryPolicy, TokenCache, parse_retry_after, redact

SPEC = ConnectionSpec(
    namespace="acme",
    title="Acme",
    settings=(Setting("apiKey", "ACME_API_KEY", secret=True), Setting("baseUrl", "ACME_BASE_URL")),
    base_urls={"production": "https://api.acme.invalid", "sandbox": "https://sandbox.acme.invalid"},
)
KEY = "sk_live_supersecret"


class AcmeDialect(Dialect):
    provider = "Acme"


class KeyAuth:
    def __init__(self) -> None:
        self.renewals = 0

    def apply(self, client: ApiClient, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {KEY}"

    def renew(self) -> bool:
        self.renewals += 1
        return True


def client(handler: Callable[[httpx.Request], httpx.Response], *, deadline: float = 2.0) -> ApiClient:
    connection = Connection(SPEC, "production", "https://api.acme.invalid", {"apiKey": KEY})
    policy = RetryPolicy(deadline=deadline, timeout=1, base_delay=0.001, max_delay=0.01)
    with _http.use_transport(httpx.MockTransport(handler)):
        return ApiClient(connection, AcmeDialect(), KeyAuth(), policy)


def test_idempotent_calls_retry_transient_statuses_until_success() -> None:
    answers = iter([503, 502, 429, 200])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(next(answers), json={"ok": True})

    response = client(handler).request("read webhook", "GET", "/hooks/1")
    assert response.status_code == 200
    assert len(seen) == 4


def test_retry_after_is_honoured_and_bounded_by_the_deadline() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"message": "slow down"})

    with pytest.raises(TransientError) as info:
        client(handler, deadline=1).request("list webhooks", "GET", "/hooks")
    # A 30 s Retry-After does not fit in a 1 s deadline: give up at once, saying why.
    assert len(calls) == 1
    assert info.value.status == 429 and info.value.retry_after == 30
    assert "Acme: list webhooks failed (HTTP 429" in str(info.value)


def test_a_create_is_not_retried_when_it_may_have_been_committed() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502, json={"message": "bad gateway"})

    with pytest.raises(TransientError) as info:
        client(handler).request("create webhook", "POST", "/hooks", json_body={"url": "https://x.example"})
    assert len(calls) == 1
    assert info.value.maybe_committed


def test_a_create_is_retried_when_the_provider_certainly_did_not_process_it() -> None:
    answers = iter([429, 201])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={"id": "1"})

    response = client(handler).request("create webhook", "POST", "/hooks", json_body={})
    assert response.status_code == 201


def test_dropped_connection_on_a_create_is_maybe_committed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    with pytest.raises(TransientError) as info:
        client(handler).request("create webhook", "POST", "/hooks", json_body={})
    assert info.value.maybe_committed


def test_refused_connection_is_retried_even_for_a_create() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={})

    assert client(handler).request("create webhook", "POST", "/hooks", json_body={}).status_code == 201


def test_401_renews_the_token_once_then_names_the_settings() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, json={"message": f"bad key {KEY}"})

    c = client(handler)
    with pytest.raises(AuthenticationError) as info:
        c.request("list webhooks", "GET", "/hooks")
    assert len(calls) == 2
    assert isinstance(c.auth, KeyAuth) and c.auth.renewals == 1
    message = str(info.value)
    assert KEY not in message and "***" in message
    assert "acme:apiKey" in message


def test_non_transient_errors_are_not_retried_and_404_is_not_found() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        status = 404 if request.url.path.endswith("/gone") else 400
        return httpx.Response(status, json={"code": "BAD", "message": "nope"})

    c = client(handler)
    with pytest.raises(NotFoundError):
        c.request("read webhook", "GET", "/hooks/gone")
    with pytest.raises(ApiError) as info:
        c.request("update webhook", "PUT", "/hooks/1", json_body={})
    assert not isinstance(info.value, TransientError)
    assert len(calls) == 2
    assert info.value.code == "BAD" and info.value.status == 400


def test_sensitive_request_values_are_redacted_from_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": "password hunter22hunter is too weak"})

    with pytest.raises(ApiError) as info:
        client(handler).request("create webhook", "POST", "/hooks", json_body={}, sensitive=["hunter22hunter"])
    assert "hunter22hunter" not in str(info.value)


def test_redact_and_retry_after_parsing() -> None:
    assert redact("key=abcd1234 and abcd1234", ["abcd1234", ""]) == "key=*** and ***"
    assert redact("short", ["abc"]) == "short"
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_and_respects_retry_after() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=8)
    assert all(0 <= policy.delay(0, None) <= 1 for _ in range(50))
    assert all(0 <= policy.delay(10, None) <= 8 for _ in range(50))
    assert policy.delay(0, 5.0) >= 5.0


def test_retry_policy_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "12")
    monkeypatch.setenv("PULUMI_WEBHOOKS_REQUEST_TIMEOUT", "3")
    policy = RetryPolicy.from_env()
    assert (policy.deadline, policy.timeout) == (12, 3)
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "soon")
    with pytest.raises(Exception, match="PULUMI_WEBHOOKS_RETRY_DEADLINE must be a number"):
        RetryPolicy.from_env()


def test_token_cache_fetches_once_until_near_expiry() -> None:
    import time

    fetched = []

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"token{len(fetched)}", time.time() + 3600

    cache = TokenCache(fetch, skew=60)
    assert cache.get() == cache.get() == "token1"
    cache.clear()
    assert cache.get() == "token2"

    short = TokenCache(lambda: ("t", time.time() + 30), skew=60)
    short.get()
    short.get()  # expires within the skew: renewed every time rather than used stale
