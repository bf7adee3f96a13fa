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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._app import Fault, HTTPError, Request, Response, Router

if TYPE_CHECKING:
    from ._app import Sandbox

_LOOPBACK = ("127.", "localhost", "::1", "[::1]")


def _body(request: Request) -> Any:
    try:
        return request.json() or {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HTTPError(400, "request body is not valid JSON") from None


def _app(sandbox: Sandbox, provider: str) -> Any:
    app = sandbox.apps.get(provider)
    if app is None:
        raise HTTPError(404, f"unknown provider {provider!r}; one of {', '.join(sandbox.apps)}")
    return app


def _router(sandbox: Sandbox) -> Router:
    r = Router()

    def health(_: Request) -> Response:
        return Response(200, {"ok": True, "providers": {n: sandbox.provider_url(n) for n in sandbox.apps}})

    def config(_: Request) -> Response:
        return Response(200, sandbox.connection_settings())

    def journal(request: Request) -> Response:
        since = int(request.query.get("since", "0") or 0)
        provider = request.query.get("provider")
        with sandbox.lock:
            rows = [
                e for e in sandbox.journal
                if e["seq"] > since and (not provider or e["provider"] == provider)
            ]
        return Response(200, rows)

    def clear_journal(_: Request) -> Response:
        with sandbox.lock:
            sandbox.journal.clear()
        return Response(204)

    def list_webhooks(_: Request, provider: str) -> Response:
        app = _app(sandbox, provider)
        with sandbox.lock:
            return Response(200, app.webhooks())

    def edit(request: Request, provider: str, webhook_id: str) -> Response:
        app = _app(sandbox, provider)
        changes = _body(request)
        with sandbox.lock:
            result = app.edit(webhook_id, changes)
            sandbox.save()
        return Response(200, result)

    def remove(_: Request, provider: str, webhook_id: str) -> Response:
        app = _app(sandbox, provider)
        with sandbox.lock:
            app.remove(webhook_id)
            sandbox.save()
        return Response(204)

    def faults(_: Request) -> Response:
        with sandbox.lock:
            return Response(200, [dataclasses.asdict(f) for f in sandbox.faults])

    def add_fault(request: Request) -> Response:
        try:
            fault = Fault(**_body(request))
        except TypeError as exc:
            raise HTTPError(400, f"bad fault rule: {exc}") from None
        with sandbox.lock:
            sandbox.faults.append(fault)
        return Response(201, dataclasses.asdict(fault))

    def clear_faults(_: Request) -> Response:
        with sandbox.lock:
            sandbox.faults.clear()
        return Response(204)

    def expire_tokens(_: Request) -> Response:
        with sandbox.lock:
            for app in sandbox.apps.values():
                app.expire_tokens()
            sandbox.save()
        return Response(204)

    def deliver(request: Request, provider: str, webhook_id: str) -> Response:
        app = _app(sandbox, provider)
        options = _body(request)
        with sandbox.lock:
            delivery = app.delivery(webhook_id, options.get("event"))
        result: dict[str, Any] = {
            "url": delivery.url,
            "headers": delivery.headers,
            "body": delivery.body.decode(),
        }
        if options.get("send", True):
            target = options.get("target") or delivery.url
            host = urlsplit(target).hostname or ""
            if not host.startswith(_LOOPBACK):
                raise HTTPError(400, "the sandbox delivers only to loopback addresses; pass a loopback `target`")
            try:
                answer = httpx.post(target, content=delivery.body, headers=delivery.headers, timeout=10)
                result["status"] = answer.status_code
            except httpx.HTTPError as exc:
                result["error"] = str(exc)
        return Response(200, result)

    def reset(_: Request) -> Response:
        sandbox.reset()
        return Response(204)

    r.add("GET", "/health", health)
    r.add("GET", "/config", config)
    r.add("GET", "/journal", journal)
    r.add("DELETE", "/journal", clear_journal)
    r.add("GET", "/webhooks/{provider}", list_webhooks)
    r.add("PATCH", "/webhooks/{provider}/{webhook_id}", edit)
    r.add("DELETE", "/webhooks/{provider}/{webhook_id}", remove)
    r.add("GET", "/faults", faults)
    r.add("POST", "/faults", add_fault)
    r.add("DELETE", "/faults", clear_faults)
    r.add("POST", "/tokens/expire", expire_tokens)
    r.add("POST", "/deliver/{provider}/{webhook_id}", deliver)
    r.add("POST", "/reset", reset)
    return r


def handle_admin(sandbox: Sandbox, request: Request) -> Response:
    try:
        response = _router(sandbox).dispatch(request)
    except HTTPError as exc:
        return Response(exc.status, {"error": exc.message})
    return response or Response(404, {"error": f"no admin route {request.method} {request.path}"})
