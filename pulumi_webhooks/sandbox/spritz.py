"""Spritz Finance's integrator webhook API, in the sandbox.

Endpoints (below ``/spritz``): ``GET|POST /v1/integrator/webhooks``,
``PATCH|DELETE /v1/integrator/webhooks/{id}`` and ``POST|PUT
/v1/integrator/webhook-secret`` (PUT is the older spec's verb). Requests are
authenticated as Spritz does: a bearer API key plus either the signed
``X-Integrator-Key``/``X-Timestamp``/``X-Signature`` headers or the legacy
``X-INTEGRATION-KEY``. The signed path is the path below the sandbox's
``/spritz`` prefix, i.e. the documented path. Errors are RFC 9457 problem
details. Webhook ids are ``wh_`` + 24 hex digits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from ..spritz import (
    EVENTS,
    SECRET_PATH,
    WEBHOOKS_PATH,
    WILDCARD,
    CreateWebhookBody,
    DeletedWebhook,
    SecretConfigured,
    SpritzWebhook,
    UpdateWebhookBody,
    WebhookSecretArgs,
    canonical_path,
    request_signature,
)
from ._app import Delivery, HTTPError, ProviderApp, Request, Response

API_KEY = "spritz_sandbox_api_key_4f1c9e2a"
INTEGRATOR_KEY = "int_sandbox_7d3b5a19c2"
INTEGRATOR_SECRET = "spritz_sandbox_integrator_secret_b6e0"

#: How far X-Timestamp may be from the server's clock (Spritz: five minutes).
TIMESTAMP_WINDOW_MS = 5 * 60 * 1000
REALM = "spritz-integrator"
SCOPE = "integrator:webhooks"

Handler = Callable[..., Response]


class SpritzApp(ProviderApp):
    name = "spritz"
    title = "Spritz Finance"

    def initial_data(self) -> dict[str, Any]:
        # webhooks: id -> the webhook as Spritz returns it; secret: the signing secret or None.
        return {"webhooks": {}, "secret": None}

    def credentials(self) -> dict[str, str]:
        return {"apiKey": API_KEY, "integratorKey": INTEGRATOR_KEY, "integratorSecret": INTEGRATOR_SECRET}

    def error(self, status: int, message: str, code: str | None = None, **extra: Any) -> Response:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": message}
        body.update({k: v for k, v in extra.items() if v is not None})
        return Response(status, body, headers={"Content-Type": "application/problem+json"})

    def handle(self, request: Request) -> Response:
        try:
            response = self.router.dispatch(request)
        except HTTPError as exc:
            return self.error(exc.status, exc.message, exc.code, instance=request.path, **exc.extra)
        if response is None:
            return self.error(404, f"no endpoint {request.method} {request.path}", instance=request.path,
                              resourceType="endpoint", resourceId=request.path)
        return response

    def routes(self) -> None:
        r = self.router
        r.add("GET", WEBHOOKS_PATH, self._authenticated(self._list))
        r.add("POST", WEBHOOKS_PATH, self._authenticated(self._create))
        r.add("PATCH", WEBHOOKS_PATH + "/{webhook_id}", self._authenticated(self._update))
        r.add("DELETE", WEBHOOKS_PATH + "/{webhook_id}", self._authenticated(self._delete))
        r.add("POST", SECRET_PATH, self._authenticated(self._set_secret))
        r.add("PUT", SECRET_PATH, self._authenticated(self._set_secret))

    # -- authentication -------------------------------------------------------------------
    def _authenticated(self, handler: Handler) -> Handler:
        def run(request: Request, **params: str) -> Response:
            self._authenticate(request)
            return handler(request, **params)

        return run

    @staticmethod
    def _unauthorized(detail: str) -> HTTPError:
        return HTTPError(401, detail, realm=REALM, scope=SCOPE)

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthorized("missing bearer API key in the Authorization header")
        if not hmac.compare_digest(token.strip(), API_KEY):
            raise self._unauthorized("invalid API key")
        if "x-signature" in request.headers:
            self._verify_signature(request)
            return
        legacy = request.headers.get("x-integration-key")
        if legacy is None:
            raise self._unauthorized(
                "missing integrator credentials: send X-Integrator-Key, X-Timestamp and X-Signature "
                "(or the legacy X-INTEGRATION-KEY)"
            )
        if not hmac.compare_digest(legacy, INTEGRATOR_KEY):
            raise self._unauthorized("invalid integrator key")

    def _verify_signature(self, request: Request) -> None:
        key = request.headers.get("x-integrator-key")
        if key is None:
            raise self._unauthorized("missing X-Integrator-Key header")
        if not hmac.compare_digest(key, INTEGRATOR_KEY):
            raise self._unauthorized("invalid integrator key")
        timestamp = request.headers.get("x-timestamp", "")
        if not timestamp.isdigit():
            raise self._unauthorized("X-Timestamp must be the request time in Unix milliseconds")
        if abs(time.time() * 1000 - int(timestamp)) > TIMESTAMP_WINDOW_MS:
            raise self._unauthorized("X-Timestamp is more than 5 minutes away from the server time")
        path = canonical_path(request.path, parse_qsl(request.raw_query, keep_blank_values=True))
        expected = request_signature(INTEGRATOR_SECRET, timestamp, request.method, path, request.body)
        if not hmac.compare_digest(request.headers["x-signature"], expected):
            raise self._unauthorized("X-Signature does not match the request")

    # -- endpoints ------------------------------------------------------------------------------
    def _webhook(self, webhook_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self.data["webhooks"].get(webhook_id)
        if found is None:
            raise HTTPError(404, f"webhook {webhook_id} not found", resourceType="webhook", resourceId=webhook_id)
        return found

    def _new_id(self) -> str:
        while True:
            candidate = f"wh_{self.sandbox.random.getrandbits(96):024x}"
            if candidate not in self.data["webhooks"]:
                return candidate

    def _list(self, request: Request) -> Response:
        return Response(200, self.webhooks())

    def _create(self, request: Request) -> Response:
        body = self.parse(CreateWebhookBody, self.json_body(request))
        webhook = SpritzWebhook(id=self._new_id(), url=body.url, events=body.events, failureCount=0, disabled=False)
        stored = webhook.model_dump(by_alias=True)
        self.data["webhooks"][webhook.id] = stored
        return Response(200, dict(stored))

    def _update(self, request: Request, webhook_id: str) -> Response:
        webhook = self._webhook(webhook_id)
        raw = self.json_body(request)
        if isinstance(raw, dict) and "url" in raw:
            raise HTTPError(400, "url: a webhook's URL cannot be changed; delete it and create a new one")
        body = self.parse(UpdateWebhookBody, raw)
        if "events" in body.model_fields_set:
            webhook["events"] = list(body.events)
        return Response(200, dict(webhook))

    def _delete(self, request: Request, webhook_id: str) -> Response:
        self._webhook(webhook_id)
        del self.data["webhooks"][webhook_id]
        return Response(200, DeletedWebhook(id=webhook_id, deleted=True).model_dump())

    def _set_secret(self, request: Request) -> Response:
        body = self.parse(WebhookSecretArgs, self.json_body(request))
        self.data["secret"] = body.secret
        return Response(200, SecretConfigured(secretConfigured=True).model_dump(by_alias=True))

    # -- admin ------------------------------------------------------------------------------------
    def webhooks(self) -> list[dict[str, Any]]:
        return [dict(w) for w in self.data["webhooks"].values()]

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Dashboard changes and delivery outcomes: ``url``, ``events``, ``disabled``, ``failureCount``."""
        webhook = self._webhook(webhook_id)
        allowed = {"url", "events", "disabled", "failureCount"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise HTTPError(400, f"cannot edit {', '.join(unknown)}; editable: {', '.join(sorted(allowed))}")
        updated = dict(webhook)
        if "url" in changes or "events" in changes:
            body = self.parse(
                CreateWebhookBody,
                {"url": changes.get("url", webhook["url"]), "events": changes.get("events", webhook["events"])},
            )
            updated.update(url=body.url, events=list(body.events))
        if "disabled" in changes:
            if not isinstance(changes["disabled"], bool):
                raise HTTPError(400, "disabled: must be true or false")
            updated["disabled"] = changes["disabled"]
        if "failureCount" in changes:
            count = changes["failureCount"]
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise HTTPError(400, "failureCount: must be a whole number, 0 or more")
            updated["failureCount"] = count
        webhook.clear()
        webhook.update(updated)
        return dict(webhook)

    def remove(self, webhook_id: str) -> None:
        self._webhook(webhook_id)
        del self.data["webhooks"][webhook_id]

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        """A sample event; ``Signature`` is hex HMAC-SHA256(secret, body), absent without a secret."""
        webhook = self._webhook(webhook_id)
        if webhook["disabled"]:
            raise HTTPError(409, f"webhook {webhook_id} is disabled: Spritz delivers nothing to it")
        subscribed = [e for e in webhook["events"] if e != WILDCARD]
        everything = WILDCARD in webhook["events"]
        if event is None:
            event = subscribed[0] if subscribed else "payment.completed"
        if event not in EVENTS or event == WILDCARD:
            raise HTTPError(400, f"unknown event {event!r}")
        if not everything and event not in subscribed:
            raise HTTPError(400, f"webhook {webhook_id} is not subscribed to {event}")
        serial = self.sandbox.random.getrandbits(64)
        payload = {
            "id": f"evt_{serial:016x}",
            "type": event,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": {"id": f"{event.split('.')[0]}_{serial:016x}"},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        secret = self.data.get("secret")
        if secret:
            headers["Signature"] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return Delivery(url=webhook["url"], headers=headers, body=body)
