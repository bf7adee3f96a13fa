"""Kotani Pay's integrator webhook setting, in the local sandbox.

One integrator account, reached with a fixed sandbox API key::

    GET   /api/v3/integrator           the integrator, with webhook_url and webhook_events
    PATCH /api/v3/integrator/webhook   {webhook_url, webhook_secret, webhook_events[]}

Decisions where Kotani's docs are silent, as the sandbox implements them:

- PATCH replaces the whole setting: an omitted ``webhook_events`` is "all
  events" (documented), an omitted ``webhook_url`` or ``webhook_secret`` is
  cleared. A client that relied on omitted fields being kept fails here.
- A second, read-only key answers 403 to PATCH (a key that lacks permission).
- The secret is kept (the sandbox is the provider: it signs deliveries with
  it) but never returned, listed or journalled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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

#: The sandbox key (config ``kotanipay:apiKey``); it may read and update the setting.
SANDBOX_API_KEY = "kp_sandbox_6f1d2c9e8b7a4f3e9d0c1b2a3f4e5d6c"
#: A key of the same account without the permission to change the webhook setting.
SANDBOX_READONLY_API_KEY = "kp_sandbox_readonly_0a9b8c7d6e5f4a3b2c1d0e9f"
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
        }

    def routes(self) -> None:
        self.router.add("GET", INTEGRATOR_PATH, self.get_integrator)
        self.router.add("PATCH", WEBHOOK_PATH, self.update_webhook)

    def credentials(self) -> dict[str, str]:
        return {"apiKey": SANDBOX_API_KEY}

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
        try:
            dto = UpdateIntegratorWebhookDto.model_validate(body)
        except ValidationError as exc:
            raise HTTPError(400, "Bad Request", "VALIDATION_ERROR", errors=field_errors(exc)) from None
        integrator = self.data["integrator"]
        integrator["webhook_url"] = dto.webhook_url
        integrator["webhook_events"] = list(dto.webhook_events or [])
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
        """A dashboard edit: only the given fields (``webhook_url``, ``webhook_events``) change."""
        integrator = self._own(webhook_id)
        allowed = {"webhook_url", "webhook_events"}
        unknown = set(changes) - allowed
        if unknown:
            raise HTTPError(400, f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(sorted(allowed))}")
        dto = self.parse(UpdateIntegratorWebhookDto, dict(changes))
        if "webhook_url" in changes:
            integrator["webhook_url"] = dto.webhook_url
        if "webhook_events" in changes:
            integrator["webhook_events"] = list(dto.webhook_events or [])
        return self._dto()

    def remove(self, webhook_id: str) -> None:
        """The dashboard's "remove webhook": the setting is cleared."""
        integrator = self._own(webhook_id)
        integrator.update(webhook_url=None, webhook_events=[], webhook_secret=None)

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
        self.data["deliveries"] += 1
        reference = f"{self.sandbox.random.getrandbits(96):024x}"
        payload = {
            "event": event,
            "data": {
                "id": reference,
                "integrator_id": integrator["id"],
                "status": "SUCCESSFUL",
                "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Kotani-Event": event,
            "X-Kotani-Integrator": integrator["id"],
        }
        secret = integrator["webhook_secret"]
        if secret:  # no secret configured: Kotani has nothing to sign with
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Kotani-Signature"] = f"sha256={digest}"
        return Delivery(url=integrator["webhook_url"], headers=headers, body=body)


def _default_code(status: int) -> str:
    return {
        400: "VALIDATION_ERROR",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        429: "RATE_LIMITED",
    }.get(status, "INTERNAL_ERROR")
