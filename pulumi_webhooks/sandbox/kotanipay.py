"""Kotani Pay's integrator webhook setting, in the local sandbox.

One integrator account, reached with a fixed sandbox API key::

    GET   /api/v3/integrator           the integrator, with webhook_url and webhook_events
    PATCH /api/v3/integrator/webhook   {webhook_url, webhook_secret, webhook_events[]}

Decisions where Kotani's docs are silent, as the sandbox implements them (the
least forgiving reading the docs allow):

- PATCH is partial: an omitted ``webhook_url`` or ``webhook_secret`` is kept,
  but an omitted (or empty) ``webhook_events`` means **all events**, as
  documented. A field sent as ``null`` is refused, and so is a PATCH that would
  leave a secret or events without a URL (the URL can never be empty).
- A second, read-only key answers 403 to PATCH (a key that lacks permission).
- The secret is kept (the sandbox is the provider: it signs deliveries with
  it) but never returned, listed or journalled. Without a secret Kotani posts
  unsigned to each transaction's ``callbackUrl`` and never to ``webhook_url``,
  so the admin delivery refuses (409).
- Request signing ("isSecure") is off until the dashboard turns it on (admin
  edit ``{"is_secure": true}``); then every request needs ``x-timestamp`` (Unix
  seconds, within 5 minutes), ``x-nonce`` (a UUID v4, accepted once) and
  ``x-signature``, checked against :data:`SANDBOX_API_SECRET`, else 401.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pulumi_webhooks.kotanipay import (
    EVENTS,
    INTEGRATOR_PATH,
    WEBHOOK_PATH,
    IntegratorResponseDto,
    KotaniError,
    UpdateIntegratorWebhookDto,
)

from ._app import Delivery, HTTPError, ProviderApp, Request, Response, field_errors

__all__ = ["SANDBOX_API_KEY", "SANDBOX_API_SECRET", "SANDBOX_INTEGRATOR_ID", "SANDBOX_READONLY_API_KEY", "KotaniPayApp"]

#: The sandbox key (config ``kotanipay:apiKey``); it may read and update the setting.
SANDBOX_API_KEY = "kp_sandbox_6f1d2c9e8b7a4f3e9d0c1b2a3f4e5d6c"
#: A key of the same account without the permission to change the webhook setting.
SANDBOX_READONLY_API_KEY = "kp_sandbox_readonly_0a9b8c7d6e5f4a3b2c1d0e9f"
#: The account's API secret (config ``kotanipay:apiSecret``), for request signing.
SANDBOX_API_SECRET = "kp_secret_sandbox_3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f"
#: How far ``x-timestamp`` may be from the sandbox's clock, in seconds.
SIGNING_WINDOW = 300
#: The sandbox integrator: 24 hex characters, like every Kotani id.
SANDBOX_INTEGRATOR_ID = hashlib.sha256(SANDBOX_API_KEY.encode()).hexdigest()[:24]


class KotaniPayApp(ProviderApp):
    name = "kotanipay"
    title = "Kotani Pay"

    def initial_data(self) -> dict[str, Any]:
        # A fresh integrator account: no webhook configured yet.
        return {
            "integrator": {
                "id": SANDBOX_INTEGRATOR_ID,
                "organization": "Sandbox Payments Ltd",
                "first_name": "Sandbox",
                "last_name": "Integrator",
                "email": "integrator@sandbox.invalid",
                "phone": "+254 700 000 000",
                "webhook_url": None,
                "webhook_events": [],
                "webhook_secret": None,
            },
            "deliveries": 0,
            "is_secure": False,
            # nonce -> the x-timestamp it came with, kept for the signing window
            "nonces": {},
        }

    def routes(self) -> None:
        self.router.add("GET", INTEGRATOR_PATH, self.get_integrator)
        self.router.add("PATCH", WEBHOOK_PATH, self.update_webhook)

    def credentials(self) -> dict[str, str]:
        # The secret signs requests only once the account turns isSecure on.
        return {"apiKey": SANDBOX_API_KEY, "apiSecret": SANDBOX_API_SECRET}

    def error(self, status: int, message: str, code: str | None = None, **extra: Any) -> Response:
        data: dict[str, Any] = {}
        if extra.get("errors"):
            data["errors"] = list(extra["errors"])
        body = KotaniError(
            success=False, message=message, error_code=code or _default_code(status), data=data
        ).model_dump(exclude_none=True)
        return Response(status, body)

    # -- the API ------------------------------------------------------------------------
    def _authorise(self, request: Request, *, write: bool) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise HTTPError(401, "Unauthorized", "UNAUTHORIZED")
        key = key.strip()
        if hmac.compare_digest(key, SANDBOX_READONLY_API_KEY):
            if write:
                raise HTTPError(403, "Forbidden: this API key may not change the webhook settings", "FORBIDDEN")
            return
        if not hmac.compare_digest(key, SANDBOX_API_KEY):
            raise HTTPError(401, "Unauthorized", "UNAUTHORIZED")
        if self.data.get("is_secure"):
            self._check_request_signature(request)

    def _check_request_signature(self, request: Request) -> None:
        """isSecure mode: a fresh timestamp, an unused v4 nonce, and the HMAC over them."""
        stamp = request.headers.get("x-timestamp", "").strip()
        nonce = request.headers.get("x-nonce", "").strip()
        signature = request.headers.get("x-signature", "").strip()
        if not (stamp and nonce and signature):
            raise HTTPError(401, "Unauthorized: x-timestamp, x-nonce and x-signature are required", "UNAUTHORIZED")
        if not re.fullmatch(r"[0-9]{1,12}", stamp):
            raise HTTPError(401, "Unauthorized: x-timestamp must be Unix seconds", "UNAUTHORIZED")
        now = time.time()
        if abs(now - int(stamp)) > SIGNING_WINDOW:
            raise HTTPError(401, "Unauthorized: x-timestamp is outside the 5 minute window", "UNAUTHORIZED")
        if not _UUID4.fullmatch(nonce):
            raise HTTPError(401, "Unauthorized: x-nonce must be a UUID v4", "UNAUTHORIZED")
        if request.method.upper() in ("POST", "PUT", "PATCH"):
            # Kotani signs what JSON.stringify gives for the body it parsed, not the bytes.
            tail = _stringify(self.json_body(request))
        else:
            tail = request.path.rstrip("/").rsplit("/", 1)[-1]
        message = f"{stamp}.{nonce}.{tail}".encode()
        expected = hmac.new(SANDBOX_API_SECRET.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise HTTPError(401, "Unauthorized: x-signature does not match the request", "UNAUTHORIZED")
        seen: dict[str, int] = self.data.setdefault("nonces", {})
        if nonce.lower() in seen:
            raise HTTPError(401, "Unauthorized: x-nonce was already used", "UNAUTHORIZED")
        for old, when in list(seen.items()):
            if now - when > 2 * SIGNING_WINDOW:
                del seen[old]
        seen[nonce.lower()] = int(stamp)

    def _dto(self) -> dict[str, Any]:
        # Built through the response model, so the secret can never be part of it.
        return IntegratorResponseDto.model_validate(self.data["integrator"]).model_dump()

    def get_integrator(self, request: Request) -> Response:
        self._authorise(request, write=False)
        return Response(200, {"success": True, "message": "Integrator retrieved successfully.", "data": self._dto()})

    def update_webhook(self, request: Request) -> Response:
        self._authorise(request, write=True)
        body = self.json_body(request)
        if not isinstance(body, dict):
            raise HTTPError(400, "Bad Request", "VALIDATION_ERROR", errors=["body: must be a JSON object"])
        nulls = sorted(k for k in ("webhook_url", "webhook_secret", "webhook_events") if k in body and body[k] is None)
        if nulls:
            raise HTTPError(400, "Bad Request", "VALIDATION_ERROR", errors=[f"{k}: must not be null" for k in nulls])
        try:
            dto = UpdateIntegratorWebhookDto.model_validate(body)
        except ValidationError as exc:
            raise HTTPError(400, "Bad Request", "VALIDATION_ERROR", errors=field_errors(exc)) from None
        integrator = self.data["integrator"]
        url = dto.webhook_url if "webhook_url" in body else integrator["webhook_url"]
        if not url:
            raise HTTPError(400, "Bad Request", "VALIDATION_ERROR",
                            errors=["webhook_url: required while the integrator has no webhook URL"])
        integrator["webhook_url"] = url
        # Partial, except for the documented rule: no (or empty) webhook_events is every event.
        integrator["webhook_events"] = list(dto.webhook_events or [])
        if "webhook_secret" in body:
            integrator["webhook_secret"] = dto.webhook_secret
        return Response(
            200,
            {"success": True, "message": "Integrator webhook settings updated successfully.", "data": self._dto()},
        )

    # -- admin ----------------------------------------------------------------------------
    def _own(self, webhook_id: str) -> dict[str, Any]:
        integrator: dict[str, Any] = self.data["integrator"]
        if webhook_id != integrator["id"]:
            raise HTTPError(404, f"no integrator {webhook_id!r}; the sandbox integrator is {integrator['id']}")
        return integrator

    def webhooks(self) -> list[dict[str, Any]]:
        integrator = self.data["integrator"]
        if not integrator["webhook_url"]:
            return []
        return [
            {
                "id": integrator["id"],
                "webhook_url": integrator["webhook_url"],
                "webhook_events": list(integrator["webhook_events"]),
                "has_secret": bool(integrator["webhook_secret"]),
            }
        ]

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """A dashboard edit: only the given fields (``webhook_url``, ``webhook_events``,
        ``is_secure`` for request signing) change."""
        integrator = self._own(webhook_id)
        allowed = {"webhook_url", "webhook_events", "is_secure"}
        unknown = set(changes) - allowed
        if unknown:
            raise HTTPError(400, f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(sorted(allowed))}")
        changes = dict(changes)
        if "is_secure" in changes:
            secure = changes.pop("is_secure")
            if not isinstance(secure, bool):
                raise HTTPError(400, "is_secure: must be true or false")
            self.data["is_secure"] = secure
        dto = self.parse(UpdateIntegratorWebhookDto, changes)
        if "webhook_url" in changes:
            integrator["webhook_url"] = dto.webhook_url
        if "webhook_events" in changes:
            integrator["webhook_events"] = list(dto.webhook_events or [])
        return self._dto()

    def remove(self, webhook_id: str) -> None:
        """The dashboard's "remove webhook": the setting is cleared."""
        integrator = self._own(webhook_id)
        integrator.update(webhook_url=None, webhook_events=[], webhook_secret=None)

    def sample(self, url: str, event: str, signing: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        secret = signing.get("secret") or f"whsec_{self.sandbox.random.getrandbits(128):032x}"
        integrator = self.data["integrator"]
        integrator.update(webhook_url=url, webhook_events=[event], webhook_secret=secret)
        return integrator["id"], {"secret": secret}

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        integrator = self._own(webhook_id)
        if not integrator["webhook_url"]:
            raise HTTPError(404, "the integrator has no webhook URL configured")
        subscribed: list[str] = integrator["webhook_events"]
        event = event or (subscribed[0] if subscribed else "payment.confirmed")
        if event not in EVENTS:
            raise HTTPError(400, f"unknown event {event!r}")
        if subscribed and event not in subscribed:
            raise HTTPError(400, f"the integrator is not subscribed to {event!r}")
        secret = integrator["webhook_secret"]
        if not secret:
            # Kotani's other mode: unsigned posts to each transaction's callbackUrl, none here.
            raise HTTPError(409, "the integrator has no webhook secret: Kotani posts unsigned to each "
                                 "transaction's callbackUrl, not to webhook_url")
        self.data["deliveries"] += 1
        reference = f"{self.sandbox.random.getrandbits(96):024x}"
        payload = {
            "event": event,
            "data": {
                "id": reference,
                "integrator_id": integrator["id"],
                "status": "SUCCESSFUL",
                "amount": 1500.5,
                "currency": "KES",
                "customer_name": "Wanjirū Njoroge",
                "narration": 'M-Pesa "Lipa" · café ✓',
                "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            },
        }
        signed = _stringify(payload).encode("utf-8")
        header = f"sha256={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"
        # The body adds the signature after the signed fields, as a copy of the header.
        body = _stringify({**payload, "signature": header}).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-Kotani-Event": event,
            "X-Kotani-Integrator": integrator["id"],
            "X-Kotani-Signature": header,
        }
        return Delivery(url=integrator["webhook_url"], headers=headers, body=body)


_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE)


def _stringify(value: Any) -> str:
    """``JSON.stringify`` for the values the sandbox handles: compact, keys in insertion
    order, non-ASCII kept raw, floats written the way JavaScript writes them."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_stringify(str(k))}:{_stringify(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_stringify(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, str):
        # The stdlib escapes exactly as JS does for well-formed text: \" \\ \b \f \n \r \t, \u00xx.
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot stringify {type(value).__name__}")


def _js_number(value: float) -> str:
    if not math.isfinite(value):
        return "null"  # JSON.stringify writes NaN and the infinities as null
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def _default_code(status: int) -> str:
    return {
        400: "VALIDATION_ERROR",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        429: "RATE_LIMITED",
    }.get(status, "INTERNAL_ERROR")
