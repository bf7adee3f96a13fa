"""HTTP with retries, token renewal and redaction, shared by every provider.

Each provider supplies a :class:`Dialect` (how its errors look, which of them
are retryable) and optionally an :class:`Auth` (headers, tokens, signing);
:class:`TokenAuth` is the auth of providers that hand out expiring tokens.
One :class:`ApiClient` per provider connection lives for the whole provider
process and is shared by the host's gRPC threads; :class:`Clients` makes and
keeps them (and is where a test puts its transport and clock). Each provider's
typed API client (a :class:`ProviderApi`) makes its calls through one.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from ._clock import SYSTEM_CLOCK, Clock
from ._config import Connection
from ._errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RejectedError,
    TransientError,
)

if TYPE_CHECKING:
    import httpx  # imported when the first client is made: a preview never needs it

__all__ = [
    "STILL_WORKING",
    "TRANSIENT_STATUSES",
    "ApiClient",
    "Auth",
    "ClientParts",
    "Clients",
    "Dialect",
    "Failure",
    "Listed",
    "ListedApi",
    "ListedT",
    "ProviderApi",
    "RetryPolicy",
    "TokenAuth",
    "TokenCache",
    "json_or_none",
    "offset_pages",
    "parse_retry_after",
    "process_clients",
    "redact",
    "request_log",
    "text_or_none",
    "use_clients",
]

#: Statuses retried for idempotent requests.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Statuses that prove the request was not processed: safe to retry even a create.
NOT_PROCESSED_STATUSES = frozenset({425, 429})

REDACTED = "***"

#: Transport failures after which the provider may still be working on the request (it can
#: commit later), unlike a dropped connection, after which the request is over either way.
STILL_WORKING = frozenset({"ReadTimeout", "WriteTimeout"})

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")

_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_log_lock = threading.Lock()
_log_configured: tuple[str | None, str | None] | None = None
_request_log = logging.getLogger("pulumi_webhooks.requests")
_request_log.propagate = False


def request_log() -> logging.Logger | None:
    """The request log, when PULUMI_WEBHOOKS_LOG=debug asks for it (to stderr, or to the file
    PULUMI_WEBHOOKS_LOG_FILE names): one line per HTTP attempt, method, path, status and time,
    never a query string, header or body."""
    global _log_configured
    level_name = (os.environ.get("PULUMI_WEBHOOKS_LOG") or "").strip().lower() or None
    path = os.environ.get("PULUMI_WEBHOOKS_LOG_FILE") or None
    wanted = (level_name, path)
    with _log_lock:
        if wanted != _log_configured:
            for handler in list(_request_log.handlers):
                _request_log.removeHandler(handler)
                handler.close()
            if level_name is not None or path is not None:
                level = _LOG_LEVELS.get(level_name or "debug")
                if level is None:
                    raise ConfigurationError(
                        f"PULUMI_WEBHOOKS_LOG must be one of {', '.join(_LOG_LEVELS)}, not {level_name!r}"
                    )
                handler = logging.FileHandler(path) if path else logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(asctime)s pulumi-webhooks %(message)s"))
                _request_log.addHandler(handler)
                _request_log.setLevel(level)
            _log_configured = wanted
        return _request_log if _request_log.handlers else None


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value (of 4 characters or more) in ``text``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter.

    ``deadline`` (seconds) bounds the whole call including retries; set it with
    PULUMI_WEBHOOKS_RETRY_DEADLINE. ``attempts`` caps the tries of one call
    (PULUMI_WEBHOOKS_RETRY_ATTEMPTS), so an API that fails every time fails the
    call in seconds, not at the deadline. ``timeout`` bounds each request
    (PULUMI_WEBHOOKS_REQUEST_TIMEOUT). ``clock`` is what the pauses between
    attempts wait on and the deadline is measured with.
    """

    deadline: float = 60.0
    timeout: float = 30.0
    base_delay: float = 0.25
    max_delay: float = 8.0
    attempts: int = 5
    clock: Clock = field(default=SYSTEM_CLOCK, compare=False, repr=False)

    @classmethod
    def from_env(cls, clock: Clock = SYSTEM_CLOCK) -> RetryPolicy:
        def number(name: str, default: float) -> float:
            raw = os.environ.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}") from None
            if value < 0:
                raise ConfigurationError(f"{name} must not be negative")
            return value

        attempts = number("PULUMI_WEBHOOKS_RETRY_ATTEMPTS", cls.attempts)
        if attempts < 1 or attempts != int(attempts):
            raise ConfigurationError(f"PULUMI_WEBHOOKS_RETRY_ATTEMPTS must be a whole number of at least 1, "
                                     f"not {os.environ.get('PULUMI_WEBHOOKS_RETRY_ATTEMPTS')!r}")
        return cls(
            deadline=number("PULUMI_WEBHOOKS_RETRY_DEADLINE", cls.deadline),
            timeout=number("PULUMI_WEBHOOKS_REQUEST_TIMEOUT", cls.timeout),
            attempts=int(attempts),
            clock=clock,
        )

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
        if retry_after is not None:
            return max(retry_after, backoff)
        return backoff


@dataclass(frozen=True)
class Failure:
    """A provider's error answer, parsed from its own envelope.

    ``status`` is the HTTP status the answer carried, and what an error reports. ``means`` is
    the status whose meaning the answer has when the provider says it in the body instead
    (a token error or a rate limit inside an HTTP 200): retries, token renewal and the error
    class follow :attr:`meaning`, never the reported status."""

    status: int
    code: str | None
    message: str | None
    means: int | None = None

    @property
    def meaning(self) -> int:
        return self.status if self.means is None else self.means


class Dialect:
    """How one provider's API reports errors. Override per provider."""

    provider = "provider"

    def failure(self, response: httpx.Response) -> Failure | None:
        """The error in ``response``, or None when it succeeded."""
        if response.status_code < 400:
            return None
        return self.failure_from(response, json_or_none(response))

    def failure_from(self, response: httpx.Response, body: Any) -> Failure:
        """``response`` as a failure, code and message read from its decoded ``body``
        by :meth:`error_fields`; without a message, the status's reason phrase."""
        code = message = None
        if isinstance(body, dict):
            code, message = self.error_fields(body)
        return Failure(response.status_code, code, message or response.reason_phrase or None)

    def error_fields(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """(code, message) of an error body; override where a provider keeps them elsewhere."""
        raw_code = body.get("code") or body.get("error_code")
        raw_message = body.get("message") or body.get("detail") or body.get("title")
        return (
            None if raw_code is None else str(raw_code),
            None if raw_message is None else str(raw_message),
        )

    def retry_after(self, response: httpx.Response, clock: Clock = SYSTEM_CLOCK) -> float | None:
        """Seconds ``response`` asks to wait before another try, or None; ``clock`` tells the
        time an HTTP date is counted from."""
        return parse_retry_after(response.headers.get("Retry-After"), clock)

    def is_transient(self, failure: Failure) -> bool:
        return failure.meaning in TRANSIENT_STATUSES

    def is_not_found(self, failure: Failure) -> bool:
        return failure.meaning == 404


def parse_retry_after(value: str | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock.time())


class Auth(Protocol):
    """Adds credentials to a request; may fetch and cache a token."""

    def apply(self, client: ApiClient, request: httpx.Request) -> None: ...

    def renew(self, request: httpx.Request) -> bool:
        """``request`` was refused with a 401: forget the token it carried.

        True when a retry with a fresh token may help. The request tells which
        token was refused, so a token another thread has renewed meanwhile is kept.
        """
        ...


def text_or_none(value: Any) -> str | None:
    """``value`` as text, or None when it is missing or empty (as providers leave fields)."""
    return None if value is None or value == "" else str(value)


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the body is empty or not JSON."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


_tls_lock = threading.Lock()
_tls: ssl.SSLContext | None = None


def _tls_context(base_url: str) -> ssl.SSLContext:
    """One TLS context (httpx's default trust store) for every https client of the process:
    loading the CA bundle costs ~20 ms, once per client otherwise. A plain-http base URL (the
    sandbox) gets a context that trusts nothing: it never does TLS, and fails closed if asked."""
    global _tls
    if not base_url.lower().startswith("https:"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    import httpx

    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()
        return _tls


class ApiClient:
    """One provider connection: base URL, auth, retries and error mapping."""

    def __init__(
        self,
        connection: Connection,
        dialect: Dialect,
        auth: Auth | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connection = connection
        self.dialect = dialect
        self.auth = auth
        self.policy = policy or RetryPolicy.from_env()
        self.clock = self.policy.clock
        import httpx

        self.http = httpx.Client(
            base_url=connection.base_url,
            timeout=self.policy.timeout,
            transport=transport,
            verify=_tls_context(connection.base_url),
            headers={"User-Agent": "pulumi-webhooks", "Accept": "application/json"},
        )
        self._extra_secrets: set[str] = set()
        self._lock = threading.Lock()
        # Shared reads: (key -> (writes seen when fetched, value)), and a lock per key.
        self._writes = 0
        self._shared: dict[str, tuple[int, Any]] = {}
        self._fetching: dict[str, threading.Lock] = {}

    # -- redaction -----------------------------------------------------------
    def add_secret(self, value: str | None) -> None:
        """Also redact ``value`` (a token, a webhook secret) from every message."""
        if value:
            with self._lock:
                self._extra_secrets.add(value)

    def redact(self, text: str, extra: Iterable[str] = ()) -> str:
        with self._lock:
            known = set(self._extra_secrets)
        return redact(text, [*self.connection.secrets, *known, *extra])

    # -- shared reads --------------------------------------------------------
    def shared_read(self, key: str, fetch: Callable[[], T]) -> T:
        """``fetch()``, done once for every read of ``key`` until this client writes.

        A refresh reads each webhook of a list-only API (no get-one call) from the
        account's list: shared, N webhooks cost one list instead of N. Any write through
        this client (and every operation starts a new provider process, so a new
        client) makes the next read fetch afresh, so a read never sees the list from
        before a change this process made."""
        with self._lock:
            lock = self._fetching.setdefault(key, threading.Lock())
        with lock:  # concurrent readers wait for the one fetch
            with self._lock:
                writes, cached = self._shared.get(key, (-1, None))
                current = self._writes
            if writes == current:
                return cast(T, cached)
            value = fetch()
            with self._lock:
                if self._writes == current:  # no write began or ended meanwhile
                    self._shared[key] = (current, value)
            return value

    def _wrote(self) -> None:
        with self._lock:
            self._writes += 1
            self._shared.clear()

    @contextlib.contextmanager
    def _writing(self, method: str, credentials_request: bool) -> Iterator[None]:
        """Around a call: a write (a token request changes no webhook) makes later shared reads
        fetch afresh, from before it is sent and once it is answered."""
        if method.upper() in ("GET", "HEAD") or credentials_request:
            yield
            return
        self._wrote()
        try:
            yield
        finally:
            self._wrote()

    # -- requests ------------------------------------------------------------
    def request(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        sensitive: Iterable[str] = (),
        authenticated: bool = True,
        credentials_request: bool = False,
    ) -> httpx.Response:
        """Send one logical call, retrying what is safe to retry.

        Non-idempotent calls (POST by default) are retried only when the
        provider certainly did not process them (connection refused, 429);
        any other transient failure raises :class:`TransientError` with
        ``maybe_committed`` so the caller can look before it retries.

        ``credentials_request`` marks the call that obtains a token: a client
        error (4xx, not transient) means the credentials were refused and raises
        :class:`AuthenticationError` naming them; a 404 means the token URL is
        wrong and raises a plain :class:`ApiError` naming the URL and the setting
        that chose it, never :class:`NotFoundError` (which would read as "the
        webhook is gone" and make a delete succeed).
        """
        import httpx

        if idempotent is None:
            idempotent = method.upper() != "POST"
        sensitive = tuple(sensitive)
        with self._writing(method, credentials_request):
            deadline = self.clock.monotonic() + self.policy.deadline
            attempt = 0
            # Credentials refused so far in this call: a 401 for credentials already refused once is
            # final, while a renewed token that expires in its turn (token churn) is renewed again.
            refused: set[tuple[tuple[str, str], ...]] = set()
            while True:
                try:
                    request = self._build(
                        method, url, json_body=json_body, params=params, data=data,
                        headers=headers, authenticated=authenticated,
                    )
                    started = time.monotonic()  # the log times the real request, whatever the clock
                    response = self.http.send(request)
                except httpx.TransportError as exc:
                    self._log(request, type(exc).__name__, started, attempt, sensitive)
                    error = self._transport_error(operation, exc, sensitive)
                    if not idempotent and error.maybe_committed:
                        raise error from None
                else:
                    self._log(request, str(response.status_code), started, attempt, sensitive)
                    failure = self.dialect.failure(response)
                    if failure is None:
                        return response
                    if credentials_request and 400 <= failure.meaning < 500 and not self.dialect.is_transient(failure):
                        if failure.meaning == 404:
                            # No token endpoint there: the base URL (or token URL) is wrong.
                            where = f"nothing answers {response.request.url.copy_with(query=None)}; " \
                                    f"base URL {self.connection.where()}"
                            raise self._api_error(ApiError, operation, failure, sensitive, where=where)
                        raise self._api_error(AuthenticationError, operation, failure, sensitive, hint=True)
                    if failure.meaning in (401, 403) and authenticated:
                        sent = tuple(sorted(request.headers.items()))
                        if (
                            failure.meaning == 401 and sent not in refused
                            and len(refused) + 1 < self.policy.attempts
                            and self.auth is not None and self.auth.renew(request)
                        ):
                            refused.add(sent)
                            continue
                        raise self._api_error(AuthenticationError, operation, failure, sensitive, hint=True)
                    if self.dialect.is_not_found(failure):
                        raise self._api_error(NotFoundError, operation, failure, sensitive)
                    if not self.dialect.is_transient(failure):
                        kind = RejectedError if failure.meaning < 500 else ApiError
                        raise self._api_error(kind, operation, failure, sensitive)
                    error = TransientError(
                        self.dialect.provider,
                        operation,
                        status=failure.status,
                        code=failure.code,
                        message=self.redact(failure.message or "", sensitive) or None,
                        retry_after=self.dialect.retry_after(response, self.clock),
                        maybe_committed=failure.meaning not in NOT_PROCESSED_STATUSES,
                    )
                    if not idempotent and error.maybe_committed:
                        raise error
                wait = self.policy.delay(attempt, error.retry_after)
                if attempt + 1 >= self.policy.attempts or self.clock.monotonic() + wait > deadline:
                    raise error
                self.clock.sleep(wait)
                attempt += 1

    def _log(self, request: httpx.Request, outcome: str, started: float, attempt: int,
             sensitive: tuple[str, ...]) -> None:
        log = request_log()
        if log is None:
            return
        elapsed = (time.monotonic() - started) * 1000
        # The path only: a query string or a header may carry a credential.
        path = self.redact(request.url.path, sensitive)
        log.info("%s %s %s -> %s %.0fms%s", self.dialect.provider, request.method, path, outcome, elapsed,
                 f" (attempt {attempt + 1})" if attempt else "")

    def _build(
        self,
        method: str,
        url: str,
        *,
        json_body: Any,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticated: bool,
    ) -> httpx.Request:
        """One attempt's request, credentials applied (a renewed token needs a new one)."""
        content: bytes | None = None
        request_headers = dict(headers or {})
        if json_body is not None:
            # Compact, non-ASCII as UTF-8: the bytes a JavaScript server's JSON.stringify
            # would produce, which is what request signatures are computed over.
            content = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
            request_headers.setdefault("Content-Type", "application/json")
        request = self.http.build_request(
            method, url, content=content, data=data, params=params, headers=request_headers
        )
        if authenticated and self.auth is not None:
            self.auth.apply(self, request)
        return request

    def _transport_error(
        self, operation: str, exc: httpx.TransportError, sensitive: tuple[str, ...]
    ) -> TransientError:
        import httpx

        # A refused connection or a pool timeout never reached the provider.
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        kind = type(exc).__name__
        message = str(exc) or kind
        try:
            url = exc.request.url
            origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
        except RuntimeError:  # an exception raised without its request
            origin = None
        if origin is not None:
            # The host, and the setting that chose it: what an operator has to check.
            message = f"{message} — at {origin}; base URL {self.connection.where()}"
        return TransientError(
            self.dialect.provider,
            operation,
            status=None,
            code=kind,
            message=self.redact(message, sensitive),
            maybe_committed=not not_sent,
        )

    def _api_error(
        self,
        cls: type[ApiError],
        operation: str,
        failure: Failure,
        sensitive: tuple[str, ...],
        hint: bool = False,
        where: str | None = None,
    ) -> ApiError:
        message = self.redact(failure.message or "", sensitive) or None
        if where:
            message = f"{message} — {where}" if message else where
        if hint:
            keys = ", ".join(self.connection.credentials)
            message = f"{message or 'credentials rejected'} (check the credentials {keys})"
        return cls(
            self.dialect.provider, operation, status=failure.status, code=failure.code, message=message
        )

    def json(self, response: httpx.Response) -> Any:
        body = json_or_none(response)
        if body is None and response.content:
            raise ApiError(
                self.dialect.provider,
                f"{response.request.method} {response.request.url.path}",
                status=response.status_code,
                message="response is not JSON",
            )
        return body

    def call(self, model: type[ModelT], operation: str, method: str, url: str, **options: Any) -> ModelT:
        """One call whose answer is a ``model``: :meth:`request` (``options`` are its keyword
        arguments), then :meth:`parse`."""
        return self.parse(model, self.request(operation, method, url, **options), operation)

    def parse(self, model: type[ModelT], response: httpx.Response, operation: str) -> ModelT:
        """The JSON body of ``response`` validated with ``model``; an :class:`ApiError`
        naming what does not fit (at most three fields) when it is not the documented shape."""
        try:
            return model.model_validate(self.json(response))
        except ValidationError as exc:
            where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:3])
            raise ApiError(
                self.dialect.provider, operation, status=response.status_code,
                message=self.redact(f"unexpected response ({where})"),
            ) from None

    def close(self) -> None:
        self.http.close()


def offset_pages(
    fetch: Callable[[int], tuple[Sequence[T], int | None]], key: Callable[[T], str], max_pages: int = 100
) -> Iterator[T]:
    """Every item of a list paged by offset, each once: ``fetch(offset)`` answers a page and the
    total the server reports (None when it reports none). Paging ends at an empty page, at that
    total, at a page holding nothing new (a server that ignores the offset) or after
    ``max_pages``, so a misbehaving server never keeps a read going forever."""
    seen: set[str] = set()
    offset = 0
    for _ in range(max_pages):
        page, total = fetch(offset)
        fresh = [item for item in page if key(item) not in seen]
        for item in fresh:
            seen.add(key(item))
            yield item
        offset += len(page)
        if not fresh or (total is not None and offset >= total):
            return


class ProviderApi:
    """One provider's webhook calls on one connection, typed by its payload models; each
    provider module has one (``list``, ``get``, ``create``, ``update``, ``delete`` where the
    API has them)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client


class Listed(Protocol):
    """A webhook as a provider's list call answers it."""

    @property
    def remote_id(self) -> str:
        """The provider's id of the webhook."""
        ...

    def properties(self) -> dict[str, Any]:
        """The resource's properties (arguments and outputs) the webhook stands for."""
        ...


ListedT = TypeVar("ListedT", bound=Listed)


class ListedApi(ProviderApi, Generic[ListedT]):
    """The calls of an API without a get-one call: a webhook is read from the account's list."""

    def list(self) -> Iterable[ListedT]:
        """Every webhook of the account (none that the provider reports as deleted)."""
        raise NotImplementedError

    def get(self, webhook_id: str) -> ListedT | None:
        """``webhook_id`` from the list, or None. Every read until this client writes shares one
        listing (see :meth:`ApiClient.shared_read`): a refresh of N webhooks lists once."""
        listed = self.client.shared_read("webhooks", lambda: {w.remote_id: w for w in self.list()})
        return listed.get(webhook_id)


#: What a provider supplies for a connection: how its API reports errors, and its credentials.
ClientParts = tuple[Dialect, "Auth | None"]


class Clients:
    """Makes API clients and keeps one per connection (so per credential set and base URL),
    shared by every thread; a changed setting makes a new one.

    ``transport`` and ``clock`` say where requests go and what retries wait on: the network
    and the real clock in a provider process; an in-process transport (the sandbox) and a
    clock whose waits return at once in a test, which passes its ``Clients`` to the provider.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.transport = transport
        self.clock = clock
        self._lock = threading.Lock()
        self._made: dict[tuple[Any, ...], ApiClient] = {}

    def policy(self) -> RetryPolicy:
        """Retry settings (from the environment) on this clock."""
        return RetryPolicy.from_env(self.clock)

    def client(self, connection: Connection, parts: Callable[[Connection], ClientParts]) -> ApiClient:
        """The client of ``connection``, made with ``parts(connection)`` the first time."""
        with self._lock:
            client = self._made.get(connection.cache_key)
            if client is None:
                dialect, auth = parts(connection)
                client = ApiClient(connection, dialect, auth, self.policy(), self.transport)
                self._made[connection.cache_key] = client
            return client

    def close(self) -> None:
        """Close every client made so far (a later call makes new ones)."""
        with self._lock:
            made, self._made = list(self._made.values()), {}
        for client in made:
            client.close()


_process_clients = Clients()


def process_clients() -> Clients:
    """The clients of code that was not handed its own: the provider process's."""
    return _process_clients


@contextlib.contextmanager
def use_clients(clients: Clients) -> Iterator[Clients]:
    """Within the block, ``clients`` are the process's (for code that takes no ``Clients``
    argument, such as resources declared under Pulumi's mocks or the command line)."""
    global _process_clients
    previous, _process_clients = _process_clients, clients
    try:
        yield clients
    finally:
        _process_clients = previous
        clients.close()


class TokenCache:
    """A bearer token shared by threads, renewed shortly before it expires.

    The lock is held while a token is fetched, so concurrent callers wait for
    one token request instead of each making their own.
    """

    def __init__(self, skew: float = 60.0) -> None:
        self._skew = skew
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def get(self, fetch: Callable[[], tuple[str, float]], clock: Clock = SYSTEM_CLOCK) -> str:
        """The cached token; a missing or expiring one (by ``clock``) is replaced by ``fetch()``,
        which returns (token, expiry in epoch seconds)."""
        with self._lock:
            if self._token is None or clock.time() >= self._expires_at - self._skew:
                self._token, self._expires_at = fetch()
            return self._token

    def invalidate(self, token: str | None) -> bool:
        """Forget ``token`` if it is still the cached one; True when it was.

        A token another thread has already renewed is kept, so concurrent
        refusals of the same old token cost one new token, not one each.
        ``None`` (the refused token is unknown) forgets whatever is cached.
        """
        with self._lock:
            if self._token is None or (token is not None and self._token != token):
                return False
            self._token = None
            return True


class TokenAuth:
    """Fetch a token, cache it until shortly before it expires, send it in a header.

    ``fetch(client)`` obtains a token and returns ``(token, expires_at)`` in
    epoch seconds (by ``client.clock``); it should call the provider with ``authenticated=False`` and
    ``credentials_request=True``. The header carries ``"<scheme> <token>"``, or
    the bare token without a scheme. One token per client (so per credential set)
    is shared by every thread; a 401 forgets exactly the token that request
    carried. Tokens are redacted from every message of the client.
    """

    def __init__(
        self,
        fetch: Callable[[ApiClient], tuple[str, float]],
        header: str,
        scheme: str | None = None,
        skew: float = 60.0,
    ) -> None:
        self._fetch = fetch
        self._header = header
        self._prefix = f"{scheme} " if scheme else ""
        self._tokens = TokenCache(skew=skew)

    def apply(self, client: ApiClient, request: httpx.Request) -> None:
        def fetch() -> tuple[str, float]:
            token, expires_at = self._fetch(client)
            client.add_secret(token)
            return token, expires_at

        request.headers[self._header] = self._prefix + self._tokens.get(fetch, client.clock)

    def renew(self, request: httpx.Request) -> bool:
        value = request.headers.get(self._header)
        token = value.removeprefix(self._prefix) if value is not None else None
        self._tokens.invalidate(token)
        # Renewed here or by another thread meanwhile: either way the retry gets a fresh token.
        return True
