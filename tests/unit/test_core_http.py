"""The shared HTTP machinery: retries, backoff bounds, Retry-After, token renewal, redaction."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pulumi_webhooks import _http
from pulumi_webhooks._config import Connection, ConnectionSpec, Setting
from pulumi_webhooks._errors import ApiError, AuthenticationError, NotFoundError, TransientError
from pulumi_webhooks._http import (
    ApiClient,
    Dialect,
    RetryPolicy,
    TokenAuth,
    TokenCache,
    json_or_none,
    parse_retry_after,
    redact,
)

from ..helpers import FakeClock, in_threads

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

    def renew(self, request: httpx.Request) -> bool:
        self.renewals += 1
        return True


def client(
    handler: Callable[[httpx.Request], httpx.Response], *, deadline: float = 2.0, clock: FakeClock | None = None,
    policy: RetryPolicy | None = None,
) -> ApiClient:
    """A client of ``handler`` whose retries pause on ``clock`` (a fresh fake one by default)."""
    connection = Connection(SPEC, "production", "https://api.acme.invalid", {"apiKey": KEY})
    policy = policy or RetryPolicy(deadline=deadline, timeout=1, base_delay=0.001, max_delay=0.01,
                                   clock=clock or FakeClock())
    return ApiClient(connection, AcmeDialect(), KeyAuth(), policy, httpx.MockTransport(handler))


def test_idempotent_calls_retry_transient_statuses_until_success(clock: FakeClock) -> None:
    answers = iter([503, 502, 429, 200])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(next(answers), json={"ok": True})

    response = client(handler, clock=clock).request("read webhook", "GET", "/hooks/1")
    assert response.status_code == 200
    assert len(seen) == 4
    assert len(clock.sleeps) == 3  # a pause before each retry, none after the success


def test_a_retry_after_that_fits_the_deadline_is_waited_for(clock: FakeClock) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "2"}, json={}), httpx.Response(200, json={})])
    response = client(lambda r: next(answers), deadline=5, clock=clock).request("list webhooks", "GET", "/hooks")
    assert response.status_code == 200
    assert clock.sleeps == [2.0]  # what the provider asked, not a few milliseconds of backoff


def test_the_deadline_stops_the_retries(clock: FakeClock) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(clock.monotonic())
        return httpx.Response(503, headers={"Retry-After": "0.4"}, json={})

    with pytest.raises(TransientError):
        client(handler, deadline=1, clock=clock).request("list webhooks", "GET", "/hooks")
    # Two 0.4 s pauses fit in 1 s, a third would end past it: three tries, well within the attempt cap.
    assert clock.sleeps == [0.4, 0.4] and calls == pytest.approx([0, 0.4, 0.8])


def test_backoff_between_attempts_stays_under_its_growing_caps(clock: FakeClock) -> None:
    policy = RetryPolicy(deadline=60, clock=clock)
    with pytest.raises(TransientError):
        client(lambda r: httpx.Response(500, json={}), policy=policy).request("list webhooks", "GET", "/hooks")
    caps = [min(policy.max_delay, policy.base_delay * 2**attempt) for attempt in range(policy.attempts - 1)]
    assert caps == [0.25, 0.5, 1.0, 2.0]
    assert len(clock.sleeps) == len(caps) and all(0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))


def test_retry_after_is_honoured_and_bounded_by_the_deadline(clock: FakeClock) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"message": "slow down"})

    with pytest.raises(TransientError) as info:
        client(handler, deadline=1, clock=clock).request("list webhooks", "GET", "/hooks")
    # A 30 s Retry-After does not fit in a 1 s deadline: give up at once, saying why.
    assert len(calls) == 1
    assert clock.sleeps == []
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


def test_a_retry_after_date_is_counted_from_the_clock() -> None:
    clock = FakeClock(wall=1_700_000_000.0)
    assert parse_retry_after(email.utils.formatdate(1_700_000_030, usegmt=True), clock) == 30.0
    clock.advance(40)
    assert parse_retry_after(email.utils.formatdate(1_700_000_030, usegmt=True), clock) == 0.0


def test_backoff_grows_and_respects_retry_after() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=8)
    first = [policy.delay(0, None) for _ in range(200)]
    third = [policy.delay(2, None) for _ in range(200)]
    late = [policy.delay(10, None) for _ in range(200)]
    assert all(0 <= d <= 1 for d in first) and all(0 <= d <= 4 for d in third) and all(0 <= d <= 8 for d in late)
    # Full jitter over a window that doubles each attempt: the third attempt's waits reach past the
    # first's whole window (with 200 draws the chance that none does is 0.25**200), up to the cap.
    assert max(third) > 1 and max(late) > 4
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
    fetched = []

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"token{len(fetched)}", time.time() + 3600

    cache = TokenCache(skew=60)
    assert cache.get(fetch) == cache.get(fetch) == "token1"
    cache.invalidate(None)
    assert cache.get(fetch) == "token2"

    fetched.clear()
    short = TokenCache(skew=60)
    expiring = lambda: (fetch()[0], time.time() + 30)  # noqa: E731
    short.get(expiring)
    short.get(expiring)  # expires within the skew: renewed every time rather than used stale
    assert len(fetched) == 2


def test_a_token_is_renewed_once_the_clock_reaches_its_expiry_less_the_skew() -> None:
    clock = FakeClock(wall=1_700_000_000.0)
    issued: list[str] = []

    def fetch() -> tuple[str, float]:
        issued.append(f"token{len(issued) + 1}")
        return issued[-1], 1_700_003_600.0

    cache = TokenCache(skew=60)
    assert cache.get(fetch, clock) == "token1"
    clock.advance(3600 - 60 - 1)
    assert cache.get(fetch, clock) == "token1"  # a second before the skew: still used
    clock.advance(1)
    assert cache.get(fetch, clock) == "token2"
    assert issued == ["token1", "token2"]


def test_token_cache_invalidates_only_the_token_it_still_holds() -> None:
    issued = iter(["old", "new"])
    cache = TokenCache()

    def fetch() -> tuple[str, float]:
        return next(issued), time.time() + 3600

    assert cache.get(fetch) == "old"
    assert cache.invalidate("old") is True
    assert cache.get(fetch) == "new"
    assert cache.invalidate("old") is False  # already renewed (by another thread): kept
    assert cache.get(fetch) == "new"
    assert cache.invalidate(None) is True  # the refused token is unknown: forget whatever is cached
    assert cache.invalidate(None) is False


def test_json_or_none() -> None:
    assert json_or_none(httpx.Response(200, json={"a": 1})) == {"a": 1}
    assert json_or_none(httpx.Response(200, text="<html>")) is None
    assert json_or_none(httpx.Response(200, content=b"\xff\xfe")) is None
    assert json_or_none(httpx.Response(204)) is None


class TokenServer:
    """Issues numbered tokens at /token; /hooks accepts only ``accepted`` tokens (all when None)."""

    def __init__(self, token_status: int = 200) -> None:
        self.token_status = token_status
        self.issued: list[str] = []
        self.accepted: set[str] | None = None
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"message": f"no token for {KEY}"})
            with self.lock:
                token = f"tok-{len(self.issued) + 1}-abcd"
                self.issued.append(token)
            time.sleep(0.01)  # widen the window for racing threads
            return httpx.Response(200, json={"token": token})
        token = request.headers.get("X-Token", "")
        with self.lock:
            self.seen.append(token)
        if self.accepted is not None and token.removeprefix("Tok ") not in self.accepted:
            return httpx.Response(401, json={"message": f"token {token} refused"})
        return httpx.Response(200, json={"ok": True})


def fetch_token(c: ApiClient) -> tuple[str, float]:
    response = c.request("fetch token", "POST", "/token", authenticated=False, idempotent=True,
                         credentials_request=True)
    return c.json(response)["token"], c.clock.time() + 3600


def token_client(server: TokenServer, scheme: str | None = "Tok", clock: FakeClock | None = None) -> ApiClient:
    connection = Connection(SPEC, "production", "https://api.acme.invalid", {"apiKey": KEY})
    policy = RetryPolicy(deadline=2, timeout=1, base_delay=0.001, max_delay=0.01, clock=clock or FakeClock())
    auth = TokenAuth(fetch_token, "X-Token", scheme=scheme)
    return ApiClient(connection, AcmeDialect(), auth, policy, httpx.MockTransport(server))


def test_token_auth_sends_one_cached_token_and_redacts_it() -> None:
    server = TokenServer()
    c = token_client(server)
    c.request("list webhooks", "GET", "/hooks")
    c.request("list webhooks", "GET", "/hooks")
    assert server.issued == ["tok-1-abcd"]
    assert server.seen == ["Tok tok-1-abcd"] * 2
    assert c.redact("bad tok-1-abcd") == "bad ***"
    bare = TokenServer()
    token_client(bare, scheme=None).request("list webhooks", "GET", "/hooks")
    assert bare.seen == ["tok-1-abcd"]


def test_token_auth_renews_a_token_that_the_client_clock_says_is_expiring(clock: FakeClock) -> None:
    server = TokenServer()
    c = token_client(server, clock=clock)
    c.request("list webhooks", "GET", "/hooks")
    clock.advance(3600 - 60)  # the token is within its skew of expiring
    c.request("list webhooks", "GET", "/hooks")
    assert server.issued == ["tok-1-abcd", "tok-2-abcd"]
    assert server.seen == ["Tok tok-1-abcd", "Tok tok-2-abcd"]  # renewed ahead, never refused


def test_token_auth_renews_a_refused_token_once() -> None:
    server = TokenServer()
    c = token_client(server)
    c.request("list webhooks", "GET", "/hooks")
    server.accepted = {"tok-2-abcd"}  # the first token was revoked
    c.request("list webhooks", "GET", "/hooks")
    assert server.issued == ["tok-1-abcd", "tok-2-abcd"]
    server.accepted = set()
    with pytest.raises(AuthenticationError) as info:
        c.request("list webhooks", "GET", "/hooks")
    # Every fresh token refused too: renewed up to the attempt cap, then the credentials are named.
    assert server.issued == [f"tok-{i}-abcd" for i in range(1, 2 + RetryPolicy.attempts)]
    assert "tok-" not in str(info.value) and "acme:apiKey" in str(info.value)


def test_token_churn_renews_each_token_that_expired_before_it_was_used() -> None:
    server = TokenServer()
    c = token_client(server)
    server.accepted = {"tok-4-abcd"}  # tokens 1-3 expire between fetch and use
    assert c.request("list webhooks", "GET", "/hooks").status_code == 200
    assert server.issued == ["tok-1-abcd", "tok-2-abcd", "tok-3-abcd", "tok-4-abcd"]


def test_the_same_credentials_refused_twice_are_final() -> None:
    calls = []

    class StaticKey(KeyAuth):
        def renew(self, request: httpx.Request) -> bool:
            super().renew(request)
            return True  # claims a retry may help, but sends the same key again

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401, json={"message": "no"})

    c = client(handler)
    c.auth = StaticKey()
    with pytest.raises(AuthenticationError):
        c.request("list webhooks", "GET", "/hooks")
    assert len(calls) == 2


def test_concurrent_refusals_of_one_token_fetch_one_new_token() -> None:
    server = TokenServer()
    server.accepted = {"tok-2-abcd"}  # every thread waits for tok-1, then has it refused
    c = token_client(server)
    errors = in_threads(lambda: c.request("list webhooks", "GET", "/hooks"), together=True)
    assert errors == []
    assert server.issued == ["tok-1-abcd", "tok-2-abcd"]


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_a_refused_credentials_request_is_an_authentication_error_with_the_hint(status: int) -> None:
    server = TokenServer(token_status=status)
    with pytest.raises(AuthenticationError) as info:
        token_client(server).request("list webhooks", "GET", "/hooks")
    error = info.value
    assert (error.operation, error.status) == ("fetch token", status)
    assert KEY not in str(error) and "(check the credentials acme:apiKey)" in str(error)
    assert server.seen == []


def test_a_credentials_request_404_is_never_not_found() -> None:
    # A wrong token URL must not read as "the webhook is gone" (a delete would then succeed).
    with pytest.raises(ApiError) as info:
        token_client(TokenServer(token_status=404)).request("delete webhook", "DELETE", "/hooks/1")
    assert type(info.value) is ApiError and info.value.status == 404
    assert "nothing answers https://api.acme.invalid/token; base URL https://api.acme.invalid (set with " \
           "acme:baseUrl or ACME_BASE_URL)" in str(info.value)


def test_a_credentials_request_retries_what_is_transient() -> None:
    answers = iter([429, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers, 200)
        return httpx.Response(status, json={"token": "tok-9-abcd"} if status == 200 else {})

    response = client(handler).request("fetch token", "POST", "/token", authenticated=False, idempotent=True,
                                       credentials_request=True)
    assert response.status_code == 200


def test_the_credentials_hint_names_non_secret_credentials() -> None:
    spec = ConnectionSpec(
        "acme", "Acme",
        (Setting("apiKey", "ACME_API_KEY", secret=True), Setting("version", "ACME_VERSION", credential=True),
         Setting("baseUrl", "ACME_BASE_URL")),
        {"production": "https://api.acme.invalid"},
    )
    assert spec.resolve().credentials == ("acme:apiKey", "acme:version")


# -- bounded failure, and what an operator is told ------------------------------------------------


def test_a_server_error_storm_fails_the_call_after_the_attempt_cap(clock: FakeClock) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500, json={"message": "boom"})

    with pytest.raises(TransientError):
        client(handler, deadline=60, clock=clock).request("list webhooks", "GET", "/hooks")
    assert len(calls) == RetryPolicy.attempts == 5
    assert len(clock.sleeps) == 4  # no pause after the last attempt


def test_attempts_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_ATTEMPTS", "2")
    assert RetryPolicy.from_env().attempts == 2
    for bad in ("0", "1.5", "many"):
        monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_ATTEMPTS", bad)
        with pytest.raises(Exception, match="PULUMI_WEBHOOKS_RETRY_ATTEMPTS must be"):
            RetryPolicy.from_env()


def test_a_connection_error_names_the_host_and_the_setting_that_chose_it(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    started = time.monotonic()
    with pytest.raises(TransientError) as info:
        client(handler, deadline=60, clock=clock).request("list webhooks", "GET", "/hooks")
    assert time.monotonic() - started < 5
    assert len(clock.sleeps) == RetryPolicy.attempts - 1 and sum(clock.sleeps) < 5
    message = str(info.value)
    assert "Name or service not known — at https://api.acme.invalid" in message
    assert "acme:baseUrl or ACME_BASE_URL" in message


def test_the_request_log_shows_each_attempt_and_no_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log_file = tmp_path / "requests.log"
    monkeypatch.setenv("PULUMI_WEBHOOKS_LOG", "debug")
    monkeypatch.setenv("PULUMI_WEBHOOKS_LOG_FILE", str(log_file))
    answers = iter([503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={"token": KEY})

    try:
        client(handler).request("read webhook", "GET", "/hooks/1", params={"key": KEY})
    finally:
        monkeypatch.delenv("PULUMI_WEBHOOKS_LOG")
        monkeypatch.delenv("PULUMI_WEBHOOKS_LOG_FILE")
        assert _http.request_log() is None
    text = log_file.read_text()
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("Acme GET /hooks/1 -> 503 " + lines[0].rsplit(" ", 1)[-1])
    assert "-> 200" in lines[1] and "(attempt 2)" in lines[1]
    assert KEY not in text


def test_an_unknown_log_level_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_LOG", "loud")
    try:
        with pytest.raises(Exception, match="PULUMI_WEBHOOKS_LOG must be one of debug, info"):
            _http.request_log()
    finally:
        monkeypatch.delenv("PULUMI_WEBHOOKS_LOG")
        _http.request_log()


# -- shared reads ------------------------------------------------------------------------------


class Listing:
    """An API whose list changes with every write; counts the lists it answers."""

    def __init__(self) -> None:
        self.items = ["wh_1"]
        self.lists = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.lists += 1
            time.sleep(0.01)  # long enough for concurrent readers to overlap
            return httpx.Response(200, json=list(self.items))
        self.items.append(f"wh_{len(self.items) + 1}")
        return httpx.Response(200, json={})


def listed(c: ApiClient) -> list[str]:
    return c.shared_read("webhooks", lambda: list(c.request("list", "GET", "/webhooks").json()))


def test_reads_share_one_listing_until_the_client_writes() -> None:
    api = Listing()
    c = client(api)
    assert [listed(c) for _ in range(5)] == [["wh_1"]] * 5
    assert api.lists == 1
    c.request("create", "POST", "/webhooks", json_body={})
    assert listed(c) == ["wh_1", "wh_2"], "a read after a write saw the listing from before it"
    assert api.lists == 2


def test_concurrent_reads_wait_for_one_listing() -> None:
    api = Listing()
    c = client(api)
    assert in_threads(lambda: listed(c), threads=8, together=True) == []
    assert api.lists == 1


def test_a_listing_that_overlaps_a_write_is_not_kept() -> None:
    api = Listing()
    c = client(api)

    def list_while_writing() -> list[str]:
        found = list(c.request("list", "GET", "/webhooks").json())
        c.request("create", "POST", "/webhooks", json_body={})  # lands while the listing is in hand
        return found

    assert c.shared_read("webhooks", list_while_writing) == ["wh_1"]
    assert listed(c) == ["wh_1", "wh_2"]


def test_a_token_request_does_not_count_as_a_write() -> None:
    api = Listing()
    c = client(api)
    listed(c)
    c.request("token", "POST", "/token", data={"grant_type": "x"}, credentials_request=True)
    listed(c)
    assert api.lists == 1


def test_offset_pages_yield_each_item_once_and_always_end() -> None:
    items = [f"wh_{n}" for n in range(7)]
    asked: list[int] = []

    def paged(offset: int) -> tuple[list[str], int | None]:
        asked.append(offset)
        return items[offset:offset + 3], None

    assert list(_http.offset_pages(paged, str)) == items
    assert asked == [0, 3, 6, 7]  # the empty page ends it

    asked.clear()
    assert list(_http.offset_pages(lambda offset: (asked.append(offset) or items[:3], 5), str)) == items[:3]
    assert asked == [0, 3]  # a server that ignores the offset: the page of nothing new ends it

    asked.clear()
    assert list(_http.offset_pages(lambda offset: (asked.append(offset) or items[offset:offset + 3], 4), str)) \
        == items[:6]
    assert asked == [0, 3]  # the total the server reported ends it

    endless = _http.offset_pages(lambda offset: ([f"wh_{offset}"], None), str, max_pages=5)
    assert len(list(endless)) == 5


class BodySaysDialect(AcmeDialect):
    """Says in the body what an answer means, as VelaFi does inside HTTP 200."""

    def failure(self, response: httpx.Response) -> _http.Failure | None:
        code = response.json().get("code")
        if code == "SLOW_DOWN":
            return _http.Failure(response.status_code, code, "rate limited", means=429)
        if code == "TOKEN_BAD":
            return _http.Failure(response.status_code, code, "token refused", means=401)
        return None


@pytest.mark.parametrize(
    ("code", "raised", "sent"), [("SLOW_DOWN", TransientError, 3), ("TOKEN_BAD", AuthenticationError, 2)]
)
def test_what_a_body_means_drives_retries_while_the_error_reports_the_wire_status(
    code: str, raised: type[ApiError], sent: int
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200, json={"code": code})

    connection = Connection(SPEC, "production", "https://api.acme.invalid", {"apiKey": KEY})
    policy = RetryPolicy(deadline=2, timeout=1, base_delay=0.001, max_delay=0.01, attempts=3, clock=FakeClock())
    api = ApiClient(connection, BodySaysDialect(), KeyAuth(), policy, httpx.MockTransport(handler))
    with pytest.raises(raised) as failed:
        api.request("create webhook", "POST", "/hooks")  # a 429 was not processed: even a POST is retried
    assert failed.value.status == 200 and "HTTP 200" in str(failed.value) and "HTTP 4" not in str(failed.value)
    assert len(seen) == sent  # rate limit: every attempt; a refused token: renewed once
