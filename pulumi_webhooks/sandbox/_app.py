"""The sandbox application: routing, state, journal, faults and the admin API.

It is plain Python (``Sandbox.handle(Request) -> Response``) so that tests can
call it in-process through :class:`SandboxTransport` and the CLI can serve it
over loopback HTTP (``_server.py``). Each provider's API is a
:class:`ProviderApp` under its own path prefix; ``/_sandbox`` is the admin API.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from .._fields import rule_of
from .._registry import BY_NAME, PROVIDERS

__all__ = [
    "Delivery",
    "Fault",
    "HTTPError",
    "Handler",
    "Headers",
    "MissingDependency",
    "ProviderApp",
    "Request",
    "Response",
    "Router",
    "Sandbox",
    "SandboxTransport",
    "apps",
    "field_errors",
    "require",
]

ADMIN_PREFIX = "_sandbox"

ModelT = TypeVar("ModelT", bound=BaseModel)


def field_errors(exc: ValidationError) -> list[str]:
    """Pydantic's errors as "field: rule" lines, in the plain words resource checks use."""
    return [f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {rule_of(error)}" for error in exc.errors()]


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only request headers."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): v for k, v in (items or {}).items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Request:
    method: str
    path: str  # below the provider prefix, e.g. "/configs/v1/webhooks"
    query: dict[str, str] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    raw_path: str = ""  # the path as received, with the provider prefix
    raw_query: str = ""  # the query string as received
    route: str = ""  # the pattern that served it, e.g. "GET /v1/webhooks/{webhook_id}"

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def encoded(self) -> bytes:
        # Made once: the journal counts its bytes and the server sends it.
        if self._encoded is None:
            body = self.body
            self._encoded = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        return self._encoded


class HTTPError(Exception):
    """Raised by a handler to answer with the provider's own error envelope."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra


class MissingDependency(RuntimeError):
    """The sandbox cannot start: a package it needs is not installed (the message says which)."""


def require(module: str, purpose: str) -> None:
    """Fail with what to install when ``module`` cannot be imported."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"the sandbox needs the {module!r} package ({purpose}): pip install 'pulumi-webhooks[sandbox]'"
        ) from None


Handler = Callable[..., Response]


class Router:
    """Routes ``METHOD /path/{param}`` patterns to handlers."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/") or "/")
        self._routes.append((method.upper(), pattern, re.compile(f"^{regex}/?$"), handler))

    def dispatch(self, request: Request, *args: Any) -> Response | None:
        """The matching handler's answer, called as ``handler(request, *args, **path_params)``;
        None when no pattern matches the path. (``args`` lets one table serve many owners: the
        admin API passes the sandbox.)"""
        path_matched = False
        for method, pattern, regex, handler in self._routes:
            m = regex.match(request.path)
            if not m:
                continue
            path_matched = True
            # HEAD is GET without the body (RFC 9110 9.3.2); the server drops the body.
            if method == request.method or (method == "GET" and request.method == "HEAD"):
                request.route = f"{method} {pattern}"
                return handler(request, *args, **m.groupdict())
        if path_matched:
            raise HTTPError(405, f"method {request.method} not allowed on {request.path}")
        return None


@dataclass
class Delivery:
    """A signed test event, as the provider would send it."""

    url: str
    headers: dict[str, str]
    body: bytes


class ProviderApp:
    """One provider's API. Subclasses register routes and hold their data in ``self.data``."""

    name: ClassVar[str]  # path prefix and config namespace, e.g. "phonepe"
    title: ClassVar[str]  # e.g. "PhonePe"
    #: The field of :meth:`webhooks` rows that holds the webhook's id.
    id_field: ClassVar[str] = "id"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.router = Router()
        self.data: dict[str, Any] = self.initial_data()
        self.routes()

    # -- to implement ----------------------------------------------------------
    def initial_data(self) -> dict[str, Any]:
        return {}

    def routes(self) -> None:
        raise NotImplementedError

    def credentials(self) -> dict[str, str]:
        """The settings (config key -> value) a stack uses to reach this API in the sandbox."""
        return {}

    def secret_settings(self) -> set[str]:
        """The config keys of :meth:`credentials` that are secrets (from the provider's connection spec)."""
        return {s.key for s in BY_NAME[self.name].connection().settings if s.secret}

    def error(self, status: int, message: str, code: str | None = None, **extra: Any) -> Response:
        """An error in this provider's own envelope."""
        return Response(status, {"message": message, "code": code})

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook, in the provider's own representation (admin listing)."""
        return []

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """An out-of-band change, as a dashboard user would make it."""
        raise HTTPError(404, "not supported")

    def remove(self, webhook_id: str) -> None:
        """An out-of-band delete."""
        raise HTTPError(404, "not supported")

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        """A sample event for ``webhook_id``, signed as the provider signs deliveries."""
        raise HTTPError(404, "not supported")

    def sample(self, url: str, event: str, signing: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """Hold a webhook for ``url`` subscribed to ``event`` whose deliveries are signed with
        ``signing`` (made up where missing), for ``pulumi-webhooks trigger``; returns its id and
        the keyword arguments ``pulumi_webhooks.verify.<provider>`` checks them with."""
        raise HTTPError(404, "not supported")

    def expire_tokens(self) -> None:
        """Make every issued access token expire now."""

    # -- helpers -----------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        try:
            response = self.router.dispatch(request)
        except HTTPError as exc:
            return self.error(exc.status, exc.message, exc.code, **exc.extra)
        if response is None:
            return self.error(404, f"no route for {request.method} {request.path}")
        return response

    def json_body(self, request: Request) -> Any:
        try:
            return request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HTTPError(400, "request body is not valid JSON") from None

    def parse(self, model: type[ModelT], body: Any) -> ModelT:
        """``body`` (a request's decoded JSON, or an admin edit) validated with ``model``;
        a 400 worded by :meth:`validation_message` when it breaks a rule."""
        if not isinstance(body, dict):
            raise HTTPError(400, "request body must be a JSON object")
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise HTTPError(400, self.validation_message(exc)) from None

    def validation_message(self, exc: ValidationError) -> str:
        """How this provider reports broken rules: every "field: rule", joined by "; "."""
        return "; ".join(field_errors(exc))


@dataclass
class Fault:
    """One fault rule; see the README's sandbox section."""

    provider: str | None = None
    method: str | None = None
    path: str | None = None  # regular expression searched in the full path
    rate: float = 1.0
    status: int | None = None  # answer with this status ...
    retry_after: float | None = None  # ... and this Retry-After
    drop: bool = False  # close the connection without an answer
    after_commit: bool = False  # process the request first, then fail
    latency: float = 0.0  # seconds to wait before answering
    count: int | None = None  # stop after this many hits

    def matches(self, provider: str, request: Request) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.provider and self.provider != provider:
            return False
        if self.method and self.method.upper() != request.method:
            return False
        if self.path and not re.search(self.path, request.raw_path):
            return False
        return True


def apps() -> list[type[ProviderApp]]:
    """The provider apps, in the registry's order. Each entry names its app; they are imported
    on call (their modules import this one, and their payload models bring in the Pulumi SDK,
    which a program using only the framework, or Fault, Request..., should not pay for)."""
    return [provider.app_class() for provider in PROVIDERS]


class Sandbox:
    """All five provider APIs plus the admin API, in one object."""

    def __init__(
        self,
        state_path: str | None = None,
        base_url: str = "http://127.0.0.1",
        seed: int | None = None,
        providers: Sequence[type[ProviderApp]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.state_path = state_path
        self.lock = threading.RLock()
        self.random = random.Random(seed)
        self.journal: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._seq = 0
        self.apps: dict[str, ProviderApp] = {cls.name: cls(self) for cls in (providers or apps())}
        self._load()

    # -- persistence ---------------------------------------------------------------
    def _load(self) -> None:
        if not self.state_path or not os.path.exists(self.state_path):
            return
        with open(self.state_path, encoding="utf-8") as f:
            saved = json.load(f)
        for name, data in saved.get("providers", {}).items():
            if name in self.apps:
                self.apps[name].data = data

    def save(self) -> None:
        if not self.state_path:
            return
        snapshot = {"providers": {name: app.data for name, app in self.apps.items()}}
        tmp = f"{self.state_path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(snapshot, f, indent=1, sort_keys=True)
        os.replace(tmp, self.state_path)

    def reset(self) -> None:
        with self.lock:
            for app in self.apps.values():
                app.data = app.initial_data()
            self.journal.clear()
            self.faults.clear()
            self.save()

    # -- configuration for stacks ----------------------------------------------------
    def provider_url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def stack_config(self) -> dict[str, str]:
        """Stack config (``ns:key`` -> value) that points every provider at this sandbox."""
        config: dict[str, str] = {}
        for name, app in self.apps.items():
            config[f"{name}:baseUrl"] = self.provider_url(name)
            for key, value in app.credentials().items():
                config[f"{name}:{key}"] = value
        return config

    def secret_config_keys(self) -> list[str]:
        """The keys of :meth:`stack_config` that are credentials (set them with --secret)."""
        return sorted(f"{name}:{key}" for name, app in self.apps.items() for key in app.secret_settings())

    def connection_settings(self) -> dict[str, Any]:
        """``{"config": {ns:key: value}, "secrets": [ns:key, ...]}`` for pointing a stack here."""
        return {"config": self.stack_config(), "secrets": self.secret_config_keys()}

    # -- request handling ------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        prefix, _, rest = request.path.lstrip("/").partition("/")
        request.raw_path = request.path
        request.path = "/" + rest
        if prefix == ADMIN_PREFIX:
            from ._admin import handle_admin

            return handle_admin(self, request)
        app = self.apps.get(prefix)
        if app is None:
            return Response(404, {"message": f"no provider at /{prefix}"})

        fault = self._pick_fault(prefix, request)
        if fault is not None and fault.latency:
            time.sleep(fault.latency)
        if fault is not None and not fault.after_commit and (fault.drop or fault.status):
            response = self._fault_response(app, fault)
        else:
            with self.lock:
                response = app.handle(request)
                if request.method not in ("GET", "HEAD") and response.status < 400:
                    self.save()
            if fault is not None and fault.after_commit and (fault.drop or fault.status):
                response = self._fault_response(app, fault)
        self._record(prefix, request, response, time.perf_counter() - started)
        return response

    def _pick_fault(self, provider: str, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(provider, request) and self.random.random() < fault.rate:
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None

    @staticmethod
    def _fault_response(app: ProviderApp, fault: Fault) -> Response:
        if fault.drop:
            return Response(drop=True)
        status = fault.status or 500
        response = app.error(status, "injected fault", "INJECTED_FAULT")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    def _record(self, provider: str, request: Request, response: Response, seconds: float) -> None:
        with self.lock:
            self._seq += 1
            self.journal.append(
                {
                    "seq": self._seq,
                    "time": time.time(),
                    "provider": provider,
                    "method": request.method,
                    "path": request.raw_path,
                    "route": request.route,
                    "status": None if response.drop else response.status,
                    "dropped": response.drop,
                    "bytes": 0 if response.drop else len(response.encoded()),
                    "ms": round(seconds * 1000, 3),  # time spent in the sandbox
                }
            )


class SandboxTransport(httpx.BaseTransport):
    """Serve httpx requests from a :class:`Sandbox` in-process (for unit tests)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        query = {k: v for k, v in request.url.params.items()}
        response = self.sandbox.handle(
            Request(
                method=request.method,
                path=request.url.path,
                query=query,
                headers=Headers(dict(request.headers)),
                body=body,
                raw_query=request.url.query.decode(),
            )
        )
        if response.drop:
            raise httpx.RemoteProtocolError("connection closed by the sandbox", request=request)
        headers = {"Content-Type": "application/json", **response.headers}
        return httpx.Response(response.status, headers=headers, content=response.encoded(), request=request)
