"""PhonePe's webhook configuration API and its OAuth token endpoint, in the sandbox.

    POST   /v1/oauth/token              form client_id, client_version, client_secret, grant_type
    POST   /configs/v1/webhooks         create (always enabled; at most 30 per account)
    GET    /configs/v1/webhooks         ?limit=&offset=  ->  {"webhooks": [...]}
    PUT    /configs/v1/webhooks/{id}    update every field, ``enabled`` included
    DELETE /configs/v1/webhooks/{id}    204

Errors use PhonePe's envelope ``{"code", "message"}``. Where PhonePe does not
document an answer the sandbox decides: bad client credentials get 401
AUTHORIZATION_FAILED, an unknown webhook id gets 400 BAD_REQUEST "Webhook <id>
not found", ``limit`` defaults to 10 and is capped at 100.

Where PhonePe's pages disagree the sandbox takes the strictest reading:

- ``username``: the webhook API pages say 5-20 letters and digits, the dashboard
  pages also allow underscores. A create or update body must use letters and
  digits only, even to keep a username the webhook already has; a dashboard edit
  (the admin API) may set underscores. So the sandbox can hold such a webhook,
  and adopting it works while managing it through the API does not.
- An update replaces the webhook, so its body must carry every field
  (``description`` included); a create may leave ``description`` out.
- The token call must be ``application/x-www-form-urlencoded``, as documented.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs

from pydantic import ValidationError

from pulumi_webhooks.phonepe import EVENTS, MAX_WEBHOOKS, CreateWebhookRequest, UpdateWebhookRequest

from ._app import Delivery, HTTPError, ProviderApp, Request, Response, field_errors

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "CLIENT_VERSION", "PhonePeApp"]

CLIENT_ID = "PHONEPESANDBOXUAT"
CLIENT_SECRET = "sbx-phonepe-client-secret-6f1d2a"
CLIENT_VERSION = "1"
TOKEN_LIFETIME = 3600  # seconds
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

_CODES = {401: "AUTHORIZATION_FAILED", 403: "AUTHORIZATION_FAILED"}
_AUTH_FAILED = "Authorization failed [message = Please check the authorization token and try again]"

#: The username rules as PhonePe's pages state them: its webhook API pages, its dashboard pages.
_API_USERNAME = re.compile(r"[A-Za-z0-9]{5,20}")
_DASHBOARD_USERNAME = re.compile(r"[A-Za-z0-9_]{5,20}")
BodyT = TypeVar("BodyT", bound=CreateWebhookRequest)


def _digest(token: str) -> str:
    # The saved state keeps only a digest of each token, never the token itself.
    return hashlib.sha256(token.encode()).hexdigest()


class PhonePeApp(ProviderApp):
    """PhonePe Payment Gateway: webhook configuration and OAuth tokens."""

    name = "phonepe"
    title = "PhonePe"

    def initial_data(self) -> dict[str, Any]:
        return {"webhooks": {}, "tokens": {}}

    def routes(self) -> None:
        r = self.router
        r.add("POST", "/v1/oauth/token", self._token)
        r.add("POST", "/configs/v1/webhooks", self._create)
        r.add("GET", "/configs/v1/webhooks", self._list)
        r.add("PUT", "/configs/v1/webhooks/{webhook_id}", self._update)
        r.add("DELETE", "/configs/v1/webhooks/{webhook_id}", self._delete)

    def credentials(self) -> dict[str, str]:
        return {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "clientVersion": CLIENT_VERSION}

    def error(self, status: int, message: str, code: str | None = None, **extra: Any) -> Response:
        if code is None:
            code = _CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST")
        return Response(status, {"code": code, "message": message})

    def validation_message(self, exc: ValidationError) -> str:
        return field_errors(exc)[0]  # PhonePe names one broken rule at a time

    # -- auth ---------------------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise HTTPError(400, "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = {k: v[-1] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise HTTPError(400, "request body must be application/x-www-form-urlencoded") from None
        missing = [k for k in ("client_id", "client_version", "client_secret", "grant_type") if not form.get(k)]
        if missing:
            raise HTTPError(400, f"missing form field(s): {', '.join(missing)}")
        if form["grant_type"] != "client_credentials":
            raise HTTPError(400, "grant_type must be client_credentials")
        if (form["client_id"], form["client_secret"], form["client_version"]) != (
            CLIENT_ID, CLIENT_SECRET, CLIENT_VERSION
        ):
            raise HTTPError(401, "Client authentication failed: unknown client_id, client_secret or client_version")
        token = f"sbx.{secrets.token_urlsafe(32)}"
        now = int(time.time())
        expires = now + TOKEN_LIFETIME
        tokens = self.data["tokens"]
        for key in [k for k, v in tokens.items() if v <= now]:
            del tokens[key]  # forget expired tokens so the saved state stays small
        tokens[_digest(token)] = expires
        return Response(200, {
            "access_token": token,
            "encrypted_access_token": token,
            "expires_in": None,
            "issued_at": now,
            "expires_at": expires,
            "session_expires_at": expires,
            "token_type": "O-Bearer",
        })

    def _authorise(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        expires = self.data["tokens"].get(_digest(token.strip())) if scheme == "O-Bearer" else None
        if expires is None or expires <= time.time():
            raise HTTPError(401, _AUTH_FAILED, "AUTHORIZATION_FAILED")

    def expire_tokens(self) -> None:
        for key in self.data["tokens"]:
            self.data["tokens"][key] = 0

    # -- webhooks ------------------------------------------------------------------------------
    def _new_id(self) -> str:
        # PhonePe's shape: "CF" + yymmddHHMMSS + ten digits, e.g. CF2410212252436169514926.
        while True:
            stamp = time.strftime("%y%m%d%H%M%S", time.gmtime())
            id_ = f"CF{stamp}{self.sandbox.random.randrange(10**10):010d}"
            if id_ not in self.data["webhooks"]:
                return id_

    def _get(self, webhook_id: str) -> dict[str, Any]:
        hook = self.data["webhooks"].get(webhook_id)
        if hook is None:
            raise HTTPError(400, f"Webhook {webhook_id} not found", "BAD_REQUEST")
        return dict(hook)

    @staticmethod
    def _check_username(username: str, rule: re.Pattern[str], wording: str) -> None:
        if not rule.fullmatch(username):
            raise HTTPError(400, f"username: must be 5 to 20 characters, {wording}")

    def _api_body(self, model: type[BodyT], request: Request) -> BodyT:
        """A create or update body, held to the webhook API pages' rules."""
        raw = self.json_body(request)
        if model is UpdateWebhookRequest and isinstance(raw, dict):
            # PhonePe's update replaces the webhook: no field may be left to a default.
            missing = [name for name in UpdateWebhookRequest.model_fields if name not in raw]
            if missing:
                raise HTTPError(400, f"{missing[0]}: is required (an update replaces every field)")
        body = self.parse(model, raw)
        self._check_username(body.username, _API_USERNAME, "letters and digits only (alphanumeric)")
        return body

    def _create(self, request: Request) -> Response:
        self._authorise(request)
        body = self._api_body(CreateWebhookRequest, request)
        if len(self.data["webhooks"]) >= MAX_WEBHOOKS:
            raise HTTPError(400, f"Cannot make more than {MAX_WEBHOOKS} webhooks", "BAD_REQUEST")
        now = int(time.time() * 1000)
        hook = {"id": self._new_id(), **body.model_dump(), "createdAt": now, "updatedAt": now, "enabled": True}
        self.data["webhooks"][hook["id"]] = hook
        return Response(200, dict(hook))

    def _list(self, request: Request) -> Response:
        self._authorise(request)
        try:
            limit = int(request.query.get("limit") or DEFAULT_LIMIT)
            offset = int(request.query.get("offset") or 0)
        except ValueError:
            raise HTTPError(400, "limit and offset must be integers") from None
        if limit < 1 or offset < 0:
            raise HTTPError(400, "limit must be positive and offset not negative")
        hooks = list(self.data["webhooks"].values())[offset:offset + min(limit, MAX_LIMIT)]
        return Response(200, {"webhooks": [dict(h) for h in hooks]})

    def _update(self, request: Request, webhook_id: str) -> Response:
        self._authorise(request)
        body = self._api_body(UpdateWebhookRequest, request)
        hook = self._get(webhook_id)
        hook.update(body.model_dump())
        hook["updatedAt"] = max(int(time.time() * 1000), hook["updatedAt"] + 1)
        self.data["webhooks"][webhook_id] = hook
        return Response(200, dict(hook))

    def _delete(self, request: Request, webhook_id: str) -> Response:
        self._authorise(request)
        self._get(webhook_id)
        del self.data["webhooks"][webhook_id]
        return Response(204)

    # -- admin -------------------------------------------------------------------------------------
    def webhooks(self) -> list[dict[str, Any]]:
        return [dict(h) for h in self.data["webhooks"].values()]

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        if webhook_id not in self.data["webhooks"]:
            raise HTTPError(404, f"no PhonePe webhook {webhook_id}")
        hook = self._get(webhook_id)
        fields = set(UpdateWebhookRequest.model_fields)
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise HTTPError(400, f"cannot edit {', '.join(unknown)}; editable: {', '.join(sorted(fields))}")
        current = {k: hook[k] for k in fields}
        body = self.parse(UpdateWebhookRequest, {**current, **changes})
        self._check_username(body.username, _DASHBOARD_USERNAME, "letters, digits and underscores only")
        hook.update(body.model_dump())
        hook["updatedAt"] = max(int(time.time() * 1000), hook["updatedAt"] + 1)
        self.data["webhooks"][webhook_id] = hook
        return dict(hook)

    def remove(self, webhook_id: str) -> None:
        if self.data["webhooks"].pop(webhook_id, None) is None:
            raise HTTPError(404, f"no PhonePe webhook {webhook_id}")

    def sample(self, url: str, event: str, signing: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        if event not in EVENTS:
            raise HTTPError(400, f"unknown PhonePe event {event!r}; one of {', '.join(EVENTS)}")
        username = signing.get("username") or "sandbox01"
        password = signing.get("password") or f"Pw{self.sandbox.random.randrange(10**10):010d}"
        now = int(time.time() * 1000)
        hook = {"id": self._new_id(), "url": url, "description": "pulumi-webhooks trigger", "username": username,
                "password": password, "events": [event], "createdAt": now, "updatedAt": now, "enabled": True}
        self.data["webhooks"][hook["id"]] = hook
        return str(hook["id"]), {"username": username, "password": password}

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        hook = self.data["webhooks"].get(webhook_id)
        if hook is None:
            raise HTTPError(404, f"no PhonePe webhook {webhook_id}")
        if not hook["enabled"]:
            raise HTTPError(400, f"PhonePe webhook {webhook_id} is disabled: PhonePe sends it nothing")
        if event is None:
            event = hook["events"][0]
        elif event not in hook["events"]:
            raise HTTPError(400, f"PhonePe webhook {webhook_id} is not subscribed to {event!r}")
        now = int(time.time() * 1000)
        order = self.sandbox.random.randrange(10**12)
        body: dict[str, Any] = {
            "event": event,
            "payload": {
                "merchantId": "SANDBOXMERCHANT",
                "merchantOrderId": f"MO{order:012d}",
                "orderId": f"OMO{order:012d}",
                "state": "FAILED" if event.endswith((".failed", ".cancelled")) else "COMPLETED",
                "amount": 10000,
                "expireAt": now + 20 * 60 * 1000,
                "paymentDetails": [],
            },
        }
        # PhonePe proves a callback with SHA256("username:password") in hex; the body is not signed.
        authorization = hashlib.sha256(f"{hook['username']}:{hook['password']}".encode()).hexdigest()
        return Delivery(
            url=hook["url"],
            headers={"Content-Type": "application/json", "Authorization": authorization},
            body=json.dumps(body).encode(),
        )
