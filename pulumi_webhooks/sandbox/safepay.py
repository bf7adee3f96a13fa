"""Safepay Raast Wire's aggregator webhook API, in the sandbox.

Paths are those below the documented base URL (which ends in ``/raastwire``):
``/v1/aggregators/{aggregator_id}/webhooks[/{webhook_id}[/rotate]]``.

The sandbox key belongs to a partner with two aggregators
(:data:`SANDBOX_AGGREGATOR_ID`, the one in the stack config, and
:data:`SANDBOX_SECOND_AGGREGATOR_ID`), so moving a webhook between
aggregators can be tried. Any other aggregator in a path is refused with 401,
as a key scoped to other aggregators would be.

An unknown webhook id under an allowed aggregator (in a get, update, delete or
rotate) is answered ``400 error.bad_request`` by default: the OpenAPI lists no
other error for those calls, and it is the answer a client can least take for
"gone". :attr:`SafepayApp.missing_status` (or ``SAFEPAY_SANDBOX_MISSING_STATUS``
in the sandbox's environment) switches it to the 404 of Safepay's error guide.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..safepay import AUTH_HEADER, EVENTS, CreateWebhook, UpdateWebhook
from ._app import Delivery, HTTPError, ProviderApp, Request, Response, Sandbox

__all__ = ["SANDBOX_AGGREGATOR_ID", "SANDBOX_SECOND_AGGREGATOR_ID", "SANDBOX_SECRET_KEY", "SafepayApp"]

SANDBOX_SECRET_KEY = "sk_test_5b0e1d6c-8d1f-4c55-9a0e-3f2b7c9d4e61"
SANDBOX_AGGREGATOR_ID = "agg_7c1f3a52-9e44-4b0d-8f6a-2d5e9b13c7a4"
SANDBOX_SECOND_AGGREGATOR_ID = "agg_e2b94d17-5a36-4c8e-b1f0-6a7d3c28e95b"
SANDBOX_PARTNER_ID = "partner_3d8a6f21-0b7c-4e59-a4d2-9c1e5f7b0a83"

#: Which aggregators each secret key opens.
KEYS: dict[str, tuple[str, ...]] = {
    SANDBOX_SECRET_KEY: (SANDBOX_AGGREGATOR_ID, SANDBOX_SECOND_AGGREGATOR_ID),
}

_CODES = {
    400: "error.bad_request",
    401: "error.unauthorized_access",
    404: "error.not_found",
    405: "error.method_not_allowed",
    409: "error.conflict",
    429: "error.too_many_requests",
}

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

#: How an unknown webhook id may be answered, and the environment variable that chooses.
MISSING_STATUSES = (400, 404)
MISSING_STATUS_ENV = "SAFEPAY_SANDBOX_MISSING_STATUS"


def _missing_status_from_env() -> int:
    raw = os.environ.get(MISSING_STATUS_ENV, "").strip()
    if not raw:
        return 400
    if not raw.isdigit() or int(raw) not in MISSING_STATUSES:
        raise ValueError(f"{MISSING_STATUS_ENV} must be 400 or 404, got {raw!r}")
    return int(raw)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SafepayApp(ProviderApp):
    """Safepay Raast Wire webhooks: create, list, get, update, delete, rotate."""

    name = "safepay"
    title = "Safepay Raast Wire"

    def __init__(self, sandbox: Sandbox) -> None:
        #: The status of the answer to an unknown webhook id: 400 or 404.
        self.missing_status = _missing_status_from_env()
        super().__init__(sandbox)

    id_field = "token"

    def initial_data(self) -> dict[str, Any]:
        # endpoints: token -> the endpoint object as the API returns it (creation order).
        return {"endpoints": {}}

    def routes(self) -> None:
        base = "/v1/aggregators/{aggregator_id}/webhooks"
        self.router.add("POST", base, self.create_endpoint)
        self.router.add("GET", base, self.list_endpoints)
        self.router.add("GET", base + "/{webhook_id}", self.get_endpoint)
        self.router.add("PUT", base + "/{webhook_id}", self.update_endpoint)
        self.router.add("DELETE", base + "/{webhook_id}", self.delete_endpoint)
        self.router.add("PUT", base + "/{webhook_id}/rotate", self.rotate_secret)

    def credentials(self) -> dict[str, str]:
        return {"secretKey": SANDBOX_SECRET_KEY, "aggregatorId": SANDBOX_AGGREGATOR_ID}

    def error(self, status: int, message: str, code: str | None = None, **extra: Any) -> Response:
        code = code or _CODES.get(status, "error.internal" if status >= 500 else "error.bad_request")
        if status == 401:
            # Authentication failures come wrapped; the rest come flat.
            return Response(status, {"api_version": "v1", "error": {"code": code, "message": message}})
        return Response(status, {"code": code, "message": message})

    # -- helpers --------------------------------------------------------------------------------
    def _authorize(self, request: Request, aggregator_id: str) -> None:
        key = request.headers.get(AUTH_HEADER, "").strip()
        aggregators = KEYS.get(key)
        if aggregators is None:
            # Safepay answers a missing and a wrong key alike.
            raise HTTPError(401, "partner access key is required in request header")
        if aggregator_id not in aggregators:
            raise HTTPError(401, "access key is not valid for this aggregator")

    def _endpoint(self, aggregator_id: str, webhook_id: str) -> dict[str, Any]:
        endpoint: dict[str, Any] | None = self.data["endpoints"].get(webhook_id)
        if endpoint is None or endpoint["aggregator_id"] != aggregator_id:
            if self.missing_status not in MISSING_STATUSES:
                raise HTTPError(500, f"sandbox: missing_status must be 400 or 404, not {self.missing_status!r}")
            # The code follows the status: error.bad_request or error.not_found.
            raise HTTPError(self.missing_status, f"webhook endpoint {webhook_id} not found")
        return endpoint

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.sandbox.random.getrandbits(128), version=4))

    def _new_secret(self) -> str:
        return base64.b64encode(self.sandbox.random.randbytes(32)).decode()

    @staticmethod
    def _apply(endpoint: dict[str, Any], changes: UpdateWebhook) -> None:
        for field in changes.model_fields_set:
            value = getattr(changes, field)
            if value is None:
                continue  # an explicit null leaves the field as it is
            if field == "event_types":
                endpoint["event_filter_json"] = json.dumps(value, separators=(",", ":"))
            else:
                endpoint[field] = value
        endpoint["updated_at"] = _now()

    def _rotate(self, endpoint: dict[str, Any]) -> str:
        now = _now()
        endpoint["secret"] = self._new_secret()
        endpoint["secret_version"] = int(endpoint.get("secret_version") or 0) + 1
        endpoint["secret_rotated_at"] = now
        endpoint["updated_at"] = now
        return now

    @staticmethod
    def _ok(data: dict[str, Any]) -> Response:
        return Response(200, {"api_version": "v1", "data": data})

    # -- endpoints ------------------------------------------------------------------------------
    def create_endpoint(self, request: Request, aggregator_id: str) -> Response:
        self._authorize(request, aggregator_id)
        body = self.parse(CreateWebhook, self.json_body(request))
        now = _now()
        # The endpoint object of the OpenAPI schema, written out here (not through the
        # client's model) so that its shape is this module's own reading of the spec.
        endpoint: dict[str, Any] = {
            "token": f"wh_{self._uuid()}",
            "aggregator_id": aggregator_id,
            "url": body.url,
            "description": body.description,
            "enabled": body.enabled,
            "event_filter_json": json.dumps(body.event_types, separators=(",", ":")),
            "secret": self._new_secret(),
            "secret_version": 1,
            "created_at": now,
            "updated_at": now,
            "secret_rotated_at": now,
        }
        self.data["endpoints"][endpoint["token"]] = endpoint
        return self._ok({"endpoint": dict(endpoint), "secret": endpoint["secret"]})

    def list_endpoints(self, request: Request, aggregator_id: str) -> Response:
        self._authorize(request, aggregator_id)
        limit = self._number(request, "limit", DEFAULT_LIMIT)
        offset = self._number(request, "offset", 0)
        if limit < 1:
            raise HTTPError(400, "limit must be at least 1")
        limit = min(limit, MAX_LIMIT)
        mine = [dict(e) for e in self.data["endpoints"].values() if e["aggregator_id"] == aggregator_id]
        return self._ok({"endpoints": mine[offset:offset + limit], "count": str(len(mine))})

    @staticmethod
    def _number(request: Request, name: str, default: int) -> int:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise HTTPError(400, f"{name} must be a non-negative integer, got {raw!r}")
        return int(raw)

    def get_endpoint(self, request: Request, aggregator_id: str, webhook_id: str) -> Response:
        self._authorize(request, aggregator_id)
        return self._ok({"endpoint": dict(self._endpoint(aggregator_id, webhook_id))})

    def update_endpoint(self, request: Request, aggregator_id: str, webhook_id: str) -> Response:
        self._authorize(request, aggregator_id)
        endpoint = self._endpoint(aggregator_id, webhook_id)
        raw = self.json_body(request)
        changes = self.parse(UpdateWebhook, {} if raw is None else raw)  # every field is optional
        self._apply(endpoint, changes)
        return self._ok({"endpoint": dict(endpoint)})

    def delete_endpoint(self, request: Request, aggregator_id: str, webhook_id: str) -> Response:
        self._authorize(request, aggregator_id)
        self._endpoint(aggregator_id, webhook_id)
        del self.data["endpoints"][webhook_id]
        return self._ok({})

    def rotate_secret(self, request: Request, aggregator_id: str, webhook_id: str) -> Response:
        self._authorize(request, aggregator_id)
        endpoint = self._endpoint(aggregator_id, webhook_id)
        rotated_at = self._rotate(endpoint)  # no body is documented; one sent is ignored
        return self._ok({"endpoint": dict(endpoint), "secret": endpoint["secret"], "rotated_at": rotated_at})

    # -- admin ----------------------------------------------------------------------------------
    def webhooks(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.data["endpoints"].values()]

    def _any(self, webhook_id: str) -> dict[str, Any]:
        endpoint: dict[str, Any] | None = self.data["endpoints"].get(webhook_id)
        if endpoint is None:
            raise HTTPError(404, f"no Safepay webhook {webhook_id!r}")
        return endpoint

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """A dashboard edit: any of ``url``, ``event_types``, ``description``, ``enabled``,
        and ``rotate: true`` to rotate the signing secret."""
        endpoint = self._any(webhook_id)
        changes = dict(changes)
        rotate = changes.pop("rotate", False)
        if not isinstance(rotate, bool):
            raise HTTPError(400, "rotate: must be true or false")
        update = self.parse(UpdateWebhook, changes)
        self._apply(endpoint, update)
        if rotate:
            self._rotate(endpoint)
        return dict(endpoint)

    def remove(self, webhook_id: str) -> None:
        self._any(webhook_id)
        del self.data["endpoints"][webhook_id]

    def sample(self, url: str, event: str, signing: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        secret = signing.get("secret") or self._new_secret()
        try:
            base64.b64decode(secret, validate=True)
        except ValueError:
            raise HTTPError(400, "a Safepay webhook secret is base64 (Safepay signs with its decoded bytes)") from None
        now = _now()
        endpoint = {
            "token": f"wh_{self._uuid()}", "aggregator_id": SANDBOX_AGGREGATOR_ID, "url": url,
            "description": "pulumi-webhooks trigger", "enabled": True,
            "event_filter_json": json.dumps([event], separators=(",", ":")), "secret": secret,
            "secret_version": 1, "created_at": now, "updated_at": now, "secret_rotated_at": now,
        }
        self.data["endpoints"][endpoint["token"]] = endpoint
        return str(endpoint["token"]), {"secret": secret}

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        """An event envelope signed as Safepay signs it:
        ``sha256=hex(HMAC-SHA256(base64decode(secret), timestamp + "." + body))``."""
        endpoint = self._any(webhook_id)
        subscribed = sorted(json.loads(endpoint["event_filter_json"] or "[]"))
        event = event or (subscribed[0] if subscribed else "payment.completed")
        if event not in EVENTS:
            raise HTTPError(400, f"unknown Safepay event {event!r}; one of {', '.join(EVENTS)}")
        family = event.split(".", 1)[0].upper()
        identifier = f"txnlog_{self._uuid()}"
        now = _now()
        payment_token = f"pm_{self._uuid()}"
        envelope = {
            "source": "SAFEPAY_RAAST",
            "kind": f"{family}_EVENT",
            "code": event.upper().replace(".", "_"),
            "version": "V1_0_0",
            "timestamp": now,
            "identifier": identifier,
            "partner_id": SANDBOX_PARTNER_ID,
            "aggregator_id": endpoint["aggregator_id"],
            "subject": {
                "payment": {
                    "token": payment_token,
                    "aggregator_id": endpoint["aggregator_id"],
                    "order_id": "sandbox-order-1",
                    "type": "RTP_NOW",
                    "amount": "250000",
                    "status": "P_" + event.split(".", 1)[1].upper(),
                    "created_at": now,
                    "updated_at": now,
                }
            },
            "destinations": [],
            "raast_channel": "",
            "webhook_event_type": event,
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        # The delivery timestamp is made per attempt, apart from the event's own.
        stamp = _now()
        key = base64.b64decode(endpoint["secret"])
        digest = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-SFPY-SIGNATURE": f"sha256={digest}",
            "X-SFPY-TIMESTAMP": stamp,
            "X-SFPY-EVENT-ID": identifier,
            "X-SFPY-EVENT-TYPE": event,
            "X-SFPY-AGGREGATOR-ID": endpoint["aggregator_id"],
        }
        return Delivery(endpoint["url"], headers, body)
