"""Spritz Finance's integrator webhook API, in the sandbox.

Endpoints (below ``/spritz``): ``GET|POST /v1/integrator/webhooks``,
``PATCH|DELETE /v1/integrator/webhooks/{id}`` and one verb of
``/v1/integrator/webhook-secret``: ``PUT`` by default (the sandbox host's docs;
the other verb answers 405), ``POST`` (the newer spec) when
``PULUMI_WEBHOOKS_SANDBOX_SPRITZ_SECRET_VERB=POST`` is set when the sandbox
starts, or after ``PATCH /_sandbox/webhooks/spritz/webhook-secret {"verb": "POST"}``.

Requests are authenticated as Spritz does: a bearer API key plus either the
signed ``X-Integrator-Key``/``X-Timestamp``/``X-Signature`` headers or the
legacy ``X-INTEGRATION-KEY``. The signature is checked here from the docs, by
code of its own: the signed path is the pathname the request arrived at (the
``/spritz`` prefix included, as the SDK signs a URL's pathname) with the query
parameters sorted by key and re-encoded as ``encodeURIComponent`` does; the
body hash is the empty string when there is no body (never the hash of an
empty body). Any mismatch is a 401 problem with ``realm`` and ``scope``.

Errors are RFC 9457 problem details with Spritz's ``code``, ``retryable`` and,
for a broken rule, the ``field``. Webhook ids are ``wh_`` + 24 hex digits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from ..spritz import (
    EVENTS,
    SECRET_PATH,
    WEBHOOKS_PATH,
    WILDCARD,
    CreateWebhookBody,
    UpdateWebhookBody,
    WebhookSecretArgs,
)
from ._app import Delivery, HTTPError, ProviderApp, Request, Response, Sandbox, field_errors

__all__ = ["API_KEY", "INTEGRATOR_KEY", "INTEGRATOR_SECRET", "SpritzApp"]

API_KEY = "spritz_sandbox_api_key_4f1c9e2a"
INTEGRATOR_KEY = "int_sandbox_7d3b5a19c2"
INTEGRATOR_SECRET = "spritz_sandbox_integrator_secret_b6e0"

#: How far X-Timestamp may be from the server's clock (Spritz: five minutes).
TIMESTAMP_WINDOW_MS = 5 * 60 * 1000
REALM = "spritz-integrator"
SCOPE = "integrator:webhooks"

#: Chooses the one verb the webhook-secret endpoint accepts: PUT (default) or POST.
SECRET_VERB_ENV = "PULUMI_WEBHOOKS_SANDBOX_SPRITZ_SECRET_VERB"
SECRET_VERBS = ("PUT", "POST")
#: The admin id that addresses the webhook-secret endpoint's settings.
SECRET_SETTINGS_ID = "webhook-secret"

#: Stable problem codes, by status.
CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
         409: "CONFLICT", 429: "RATE_LIMITED"}
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: What encodeURIComponent leaves as it is (RFC 3986 unreserved plus ! * ' ( )).
_UNESCAPED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")


def uri_component(text: str) -> str:
    """``text`` as ``encodeURIComponent(text)``: each UTF-8 byte outside the unescaped set as %XX."""
    return "".join(chr(byte) if byte in _UNESCAPED else f"%{byte:02X}" for byte in text.encode("utf-8"))


def signed_query(raw_query: str) -> str:
    """The query part of the signed path: form-decoded pairs, sorted by key, re-encoded.

    A repeated key has no single sorted form (the docs do not say which value comes
    first), so it is refused rather than guessed."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key.replace("+", " ")), unquote(value.replace("+", " "))))
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise SpritzApp.unauthorized("a query parameter is repeated: X-Signature cannot cover it")
    return "&".join(f"{uri_component(k)}={uri_component(v)}" for k, v in sorted(pairs))


def string_to_sign(timestamp: str, method: str, pathname: str, raw_query: str, body: bytes) -> str:
    """``{ts}.{METHOD}.{path}.{bodyHash}``; bodyHash is "" for an empty body."""
    query = signed_query(raw_query)
    path = f"{pathname}?{query}" if query else pathname
    body_hash = hashlib.sha256(body).hexdigest() if len(body) > 0 else ""
    return ".".join((timestamp, method, path, body_hash))


Handler = Callable[..., Response]


class SpritzApp(ProviderApp):
    name = "spritz"
    title = "Spritz Finance"

    def __init__(self, sandbox: Sandbox) -> None:
        # PUT unless asked otherwise: a client that only knows the newer spec's POST must cope.
        verb = os.environ.get(SECRET_VERB_ENV, "") or "PUT"
        if verb.upper() not in SECRET_VERBS:
            raise ValueError(f"{SECRET_VERB_ENV} must be PUT or POST, not {verb!r}")
        self.secret_verb = verb.upper()
        super().__init__(sandbox)

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
        body: dict[str, Any] = {
            "type": "about:blank", "title": title, "status": status, "detail": message,
            "code": code or CODES.get(status, "SERVER_ERROR" if status >= 500 else "REQUEST_FAILED"),
            "retryable": status in RETRYABLE_STATUSES,
        }
        body.update({k: v for k, v in extra.items() if v is not None})
        return Response(status, body, headers={"Content-Type": "application/problem+json"})

    def handle(self, request: Request) -> Response:
        try:
            response = self.router.dispatch(request)
        except HTTPError as exc:
            answer = self.error(exc.status, exc.message, exc.code, instance=request.path, **exc.extra)
            if exc.status == 405 and request.path.rstrip("/") == SECRET_PATH:
                # RFC 9110: a 405 names the methods the resource takes.
                answer.headers["Allow"] = self.secret_verb
            return answer
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
        # One verb only (the router answers any other with 405): a client must find the right one.
        r.add(self.secret_verb, SECRET_PATH, self._authenticated(self._set_secret))

    def use_secret_verb(self, verb: str) -> None:
        """Make the webhook-secret endpoint accept ``verb`` (PUT or POST) only."""
        if verb not in SECRET_VERBS:
            raise HTTPError(400, f"verb: must be PUT or POST, not {verb!r}", field="verb")
        self.secret_verb = verb
        self.router = type(self.router)()
        self.routes()

    # -- authentication -------------------------------------------------------------------
    def _authenticated(self, handler: Handler) -> Handler:
        def run(request: Request, **params: str) -> Response:
            self._authenticate(request)
            return handler(request, **params)

        return run

    @staticmethod
    def unauthorized(detail: str) -> HTTPError:
        return HTTPError(401, detail, realm=REALM, scope=SCOPE)

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            raise self.unauthorized("missing bearer API key in the Authorization header")
        if not hmac.compare_digest(token, API_KEY):
            raise self.unauthorized("invalid API key")
        if "x-signature" in request.headers:
            self._verify_signature(request)
            return
        legacy = request.headers.get("x-integration-key")
        if legacy is None:
            raise self.unauthorized(
                "missing integrator credentials: send X-Integrator-Key, X-Timestamp and X-Signature "
                "(or the legacy X-INTEGRATION-KEY)"
            )
        if not hmac.compare_digest(legacy, INTEGRATOR_KEY):
            raise self.unauthorized("invalid integrator key")

    def _verify_signature(self, request: Request) -> None:
        key = request.headers.get("x-integrator-key")
        if key is None:
            raise self.unauthorized("missing X-Integrator-Key header")
        if not hmac.compare_digest(key, INTEGRATOR_KEY):
            raise self.unauthorized("invalid integrator key")
        timestamp = request.headers.get("x-timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise self.unauthorized("X-Timestamp must be the request time in Unix milliseconds")
        if abs(time.time() * 1000 - int(timestamp)) > TIMESTAMP_WINDOW_MS:
            raise self.unauthorized("X-Timestamp is more than 5 minutes away from the server time")
        signature = request.headers["x-signature"]
        if not _SIGNATURE.fullmatch(signature):
            raise self.unauthorized("X-Signature must be sha256= followed by 64 lower-case hex digits")
        # The pathname as it arrived, prefix and all: what the client's URL said.
        pathname = request.raw_path or request.path
        message = string_to_sign(timestamp, request.method, pathname, request.raw_query, request.body)
        expected = hmac.new(INTEGRATOR_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, f"sha256={expected}"):
            raise self.unauthorized("X-Signature does not match the request")

    # -- endpoints ------------------------------------------------------------------------------
    def parse(self, model: type[Any], body: Any) -> Any:
        if not isinstance(body, dict):
            raise HTTPError(400, "request body must be a JSON object")
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]["loc"]
            raise HTTPError(400, self.validation_message(exc),
                            field=".".join(str(p) for p in first) or None) from None

    def validation_message(self, exc: ValidationError) -> str:
        return "; ".join(field_errors(exc))

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
        stored = {"id": self._new_id(), "url": body.url, "events": list(body.events), "failureCount": 0,
                  "disabled": False}
        self.data["webhooks"][stored["id"]] = stored
        return Response(200, dict(stored))

    def _update(self, request: Request, webhook_id: str) -> Response:
        webhook = self._webhook(webhook_id)
        raw = self.json_body(request)
        if isinstance(raw, dict) and "url" in raw:
            raise HTTPError(400, "url: a webhook's URL cannot be changed; delete it and create a new one",
                            field="url")
        body = self.parse(UpdateWebhookBody, raw)
        if "events" in body.model_fields_set:
            webhook["events"] = list(body.events)
        return Response(200, dict(webhook))

    def _delete(self, request: Request, webhook_id: str) -> Response:
        self._webhook(webhook_id)
        del self.data["webhooks"][webhook_id]
        return Response(200, {"id": webhook_id, "deleted": True})

    def _set_secret(self, request: Request) -> Response:
        body = self.parse(WebhookSecretArgs, self.json_body(request))
        self.data["secret"] = body.secret
        return Response(200, {"secretConfigured": True})

    # -- admin ------------------------------------------------------------------------------------
    def webhooks(self) -> list[dict[str, Any]]:
        return [dict(w) for w in self.data["webhooks"].values()]

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Dashboard changes and delivery outcomes: ``url``, ``events``, ``disabled``, ``failureCount``;
        for the id ``webhook-secret``, ``verb``: the one verb its endpoint accepts."""
        if webhook_id == SECRET_SETTINGS_ID:
            return self._edit_secret_settings(changes)
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

    def _edit_secret_settings(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - {"verb"})
        if unknown:
            raise HTTPError(400, f"cannot edit {', '.join(unknown)} of {SECRET_SETTINGS_ID}; editable: verb")
        if "verb" in changes:
            self.use_secret_verb(changes["verb"])
        return {"verb": self.secret_verb, "secretConfigured": self.data.get("secret") is not None}

    def remove(self, webhook_id: str) -> None:
        self._webhook(webhook_id)
        del self.data["webhooks"][webhook_id]

    def sample(self, url: str, event: str, signing: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        secret = signing.get("secret") or f"whsec_{self.sandbox.random.getrandbits(128):032x}"
        self.data["secret"] = secret
        stored = {"id": self._new_id(), "url": url, "events": [event], "failureCount": 0, "disabled": False}
        self.data["webhooks"][stored["id"]] = stored
        return str(stored["id"]), {"secret": secret}

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
