"""The sandbox's admin API, under ``/_sandbox`` (a prefix no provider uses).

    GET    /_sandbox/health                      {"ok": true}
    GET    /_sandbox/config                      {"config": {...}, "secrets": [...]} pointing a stack here
    GET    /_sandbox/journal[?provider=&since=]  requests received (never credentials)
    DELETE /_sandbox/journal                     clear it
    GET    /_sandbox/webhooks/{provider}         what the provider holds now
    PATCH  /_sandbox/webhooks/{provider}/{id}    out-of-band edit (a dashboard user)
    DELETE /_sandbox/webhooks/{provider}/{id}    out-of-band delete
    GET    /_sandbox/faults                      the fault rules
    POST   /_sandbox/faults                      add a rule (fields of ``Fault``)
    DELETE /_sandbox/faults                      remove every rule
    POST   /_sandbox/tokens/expire               expire every issued access token
    POST   /_sandbox/deliver/{provider}/{id}     {"event"?, "target"?, "send"?}: a signed test event
    POST   /_sandbox/reset                       empty state, journal and faults
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._fields import is_loopback_host
from ._app import Fault, Handler, HTTPError, Request, Response, Router, field_errors

if TYPE_CHECKING:
    from ._app import Sandbox

__all__ = ["handle_admin", "is_loopback_target"]


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HTTPError(400, "request body is not valid JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HTTPError(400, "request body must be a JSON object")
    return body


class _Strict(BaseModel):
    # Admin input is checked whole before anything uses it: a rule with a wrong type would
    # otherwise fail later, inside every request it is matched against.
    model_config = ConfigDict(extra="forbid", strict=True)


class FaultRule(_Strict):
    """What ``POST /_sandbox/faults`` accepts; becomes a :class:`Fault`."""

    provider: str | None = None
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] | None = None
    path: str | None = None
    rate: float = Field(1.0, ge=0, le=1)
    status: int | None = Field(None, ge=100, le=599)
    retry_after: float | None = Field(None, ge=0)
    drop: bool = False
    after_commit: bool = False
    latency: float = Field(0.0, ge=0, le=60)
    count: int | None = Field(None, ge=0)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a regular expression: {exc}") from None
        return value


class DeliverOptions(_Strict):
    """What ``POST /_sandbox/deliver/{provider}/{id}`` accepts."""

    event: str | None = None
    send: bool = True
    target: str | None = None


def _parse(model: type[_Strict], body: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise HTTPError(400, f"bad {what}: {'; '.join(field_errors(exc))}") from None


def _query_int(request: Request, name: str) -> int:
    value = request.query.get(name, "") or "0"
    try:
        number = int(value)
    except ValueError:
        raise HTTPError(400, f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise HTTPError(400, f"{name} must not be negative, got {number}")
    return number


def _app(sandbox: Sandbox, provider: str) -> Any:
    app = sandbox.apps.get(provider)
    if app is None:
        raise HTTPError(404, f"unknown provider {provider!r}; one of {', '.join(sandbox.apps)}")
    return app


def is_loopback_target(url: str) -> bool:
    """Whether ``url`` is an http(s) URL whose host is loopback (the only place the sandbox posts to)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")


# Made once, at import: the handlers take the sandbox as an argument, so every sandbox shares them.
_ROUTER = Router()


HandlerT = TypeVar("HandlerT", bound=Handler)


def _route(method: str, pattern: str) -> Callable[[HandlerT], HandlerT]:
    def register(handler: HandlerT) -> HandlerT:
        _ROUTER.add(method, pattern, handler)
        return handler

    return register


@_route("GET", "/health")
def _health(_: Request, sandbox: Sandbox) -> Response:
    return Response(200, {"ok": True, "providers": {n: sandbox.provider_url(n) for n in sandbox.apps}})


@_route("GET", "/config")
def _config(_: Request, sandbox: Sandbox) -> Response:
    return Response(200, sandbox.connection_settings())


@_route("GET", "/journal")
def _journal(request: Request, sandbox: Sandbox) -> Response:
    since = _query_int(request, "since")
    provider = request.query.get("provider")
    if provider:
        _app(sandbox, provider)
    with sandbox.lock:
        rows = [
            e for e in sandbox.journal
            if e["seq"] > since and (not provider or e["provider"] == provider)
        ]
    return Response(200, rows)


@_route("DELETE", "/journal")
def _clear_journal(_: Request, sandbox: Sandbox) -> Response:
    with sandbox.lock:
        sandbox.journal.clear()
    return Response(204)


@_route("GET", "/webhooks/{provider}")
def _list_webhooks(_: Request, sandbox: Sandbox, provider: str) -> Response:
    app = _app(sandbox, provider)
    with sandbox.lock:
        return Response(200, app.webhooks())


@_route("PATCH", "/webhooks/{provider}/{webhook_id}")
def _edit(request: Request, sandbox: Sandbox, provider: str, webhook_id: str) -> Response:
    app = _app(sandbox, provider)
    changes = _body(request)
    with sandbox.lock:
        result = app.edit(webhook_id, changes)
        sandbox.save()
    return Response(200, result)


@_route("DELETE", "/webhooks/{provider}/{webhook_id}")
def _remove(_: Request, sandbox: Sandbox, provider: str, webhook_id: str) -> Response:
    app = _app(sandbox, provider)
    with sandbox.lock:
        app.remove(webhook_id)
        sandbox.save()
    return Response(204)


@_route("GET", "/faults")
def _faults(_: Request, sandbox: Sandbox) -> Response:
    with sandbox.lock:
        return Response(200, [dataclasses.asdict(f) for f in sandbox.faults])


@_route("POST", "/faults")
def _add_fault(request: Request, sandbox: Sandbox) -> Response:
    rule = _parse(FaultRule, _body(request), "fault rule")
    if rule.provider is not None and rule.provider not in sandbox.apps:
        raise HTTPError(400, f"bad fault rule: provider: one of {', '.join(sandbox.apps)}, got {rule.provider!r}")
    fault = Fault(**rule.model_dump())
    with sandbox.lock:
        sandbox.faults.append(fault)
    return Response(201, dataclasses.asdict(fault))


@_route("DELETE", "/faults")
def _clear_faults(_: Request, sandbox: Sandbox) -> Response:
    with sandbox.lock:
        sandbox.faults.clear()
    return Response(204)


@_route("POST", "/tokens/expire")
def _expire_tokens(_: Request, sandbox: Sandbox) -> Response:
    with sandbox.lock:
        for app in sandbox.apps.values():
            app.expire_tokens()
        sandbox.save()
    return Response(204)


@_route("POST", "/deliver/{provider}/{webhook_id}")
def _deliver(request: Request, sandbox: Sandbox, provider: str, webhook_id: str) -> Response:
    app = _app(sandbox, provider)
    options: DeliverOptions = _parse(DeliverOptions, _body(request), "delivery options")
    with sandbox.lock:
        delivery = app.delivery(webhook_id, options.event)
    result: dict[str, Any] = {
        "url": delivery.url,
        "headers": delivery.headers,
        "body": delivery.body.decode(),
    }
    if options.send:
        target = options.target or delivery.url
        if not is_loopback_target(target):
            raise HTTPError(400, "the sandbox delivers only to loopback addresses; pass a loopback `target`")
        try:
            answer = httpx.post(target, content=delivery.body, headers=delivery.headers, timeout=10)
            result["status"] = answer.status_code
        except httpx.HTTPError as exc:
            result["error"] = str(exc)
    return Response(200, result)


@_route("POST", "/reset")
def _reset(_: Request, sandbox: Sandbox) -> Response:
    sandbox.reset()
    return Response(204)




def handle_admin(sandbox: Sandbox, request: Request) -> Response:
    try:
        response = _ROUTER.dispatch(request, sandbox)
    except HTTPError as exc:
        return Response(exc.status, {"error": exc.message})
    return response or Response(404, {"error": f"no admin route {request.method} {request.path}"})
