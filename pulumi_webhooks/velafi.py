"""VelaFi (formerly TruBit Business) webhooks.

One :class:`Webhook` is one webhook configuration of a VelaFi account: a
single ``event_type`` pushed to one ``url``, active or disabled. VelaFi signs
every push with a per-webhook RSA key (header ``signature``: the hex-encoded
RSA-SHA256 signature of the raw body); the resource's ``public_key`` output
is what a receiver verifies with (:func:`pulumi_webhooks.verify.velafi`).
Pushes are flat JSON objects (``webhookId``, ``eventType``, then the event's
own fields); the receiver answers ``{"callbackStatus": "SUCCESS"}`` or
``"FAIL"``.

API (paths below the base URL)::

    GET    /v2/token/generate?timestamp=&signature=   X-BH-APIKEY -> {token, expireTime}
    POST   /v2/webhook                  {eventType, url}  -> webhook
    GET    /v2/webhooks?status=10|20|30                   -> [webhook]
    PUT    /v2/webhook/{webhookId}      {url, status}     -> webhook
    DELETE /v2/webhook/{webhookId}                        -> {result: true}

Every call but the token request carries ``X-BH-TOKEN``; every answer is the
``{code, msg, data}`` envelope, and ``code != 200`` is an error whatever the
HTTP status. There is no get-one endpoint: reading lists the active and the
disabled webhooks and picks the id.

Statuses: VelaFi's enum is 10 (active), 20 (disabled), 30 (deleted), yet every
example in its docs shows ``"status": 1`` for a webhook. A 1 is read as
active (and reported as 10 in the ``status`` output); only 10 and 20 are ever
written. Any other value reads as not enabled and is reported as received.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Literal, get_args

import pulumi
from pydantic import AfterValidator, Field, ValidationError

from ._clock import SYSTEM_CLOCK, Clock
from ._config import Connection, ConnectionSpec, Setting
from ._errors import ApiError, InputError, NotFoundError
from ._fields import Adopts, Flag, HttpsUrl, Lenient, Output, Payload, Replaces, request_body, suggest
from ._http import ApiClient, ClientParts, Clients, Dialect, Failure, ListedApi, TokenAuth, json_or_none
from ._lifecycle import ListedWebhookProvider, WebhookProvider, WebhookResource

if TYPE_CHECKING:
    import httpx

__all__ = ["CONNECTION", "EVENT_TYPES", "EventTypeName", "Webhook", "WebhookArgs", "WebhookState", "list_webhooks"]

# -- connection ---------------------------------------------------------------------------

CONNECTION = ConnectionSpec(
    namespace="velafi",
    title="VelaFi",
    settings=(
        Setting("apiKey", "VELAFI_API_KEY", secret=True, required=True),
        Setting("apiSecret", "VELAFI_API_SECRET", secret=True, required=True),
        Setting("baseUrl", "VELAFI_BASE_URL"),
        Setting("environment", "VELAFI_ENVIRONMENT"),
    ),
    base_urls={
        "production": "https://api.velafi.com",
        "sandbox": "https://api-test.velafi.com",
    },
)

TOKEN_PATH = "/v2/token/generate"
WEBHOOK_PATH = "/v2/webhook"
WEBHOOKS_PATH = "/v2/webhooks"

#: Header names, as VelaFi spells them.
API_KEY_HEADER = "X-BH-APIKEY"
TOKEN_HEADER = "X-BH-TOKEN"
SIGNATURE_HEADER = "signature"  # on pushes: hex RSA-SHA256 (PKCS#1 v1.5) over the raw body

# -- statuses and business codes ------------------------------------------------------------

STATUS_ACTIVE: Final = 10
STATUS_DISABLED: Final = 20
STATUS_DELETED: Final = 30
#: Every example in VelaFi's docs shows ``status: 1`` for a webhook; read it as active, never write it.
STATUS_ACTIVE_IN_EXAMPLES: Final = 1
ACTIVE_STATUSES = frozenset({STATUS_ACTIVE, STATUS_ACTIVE_IN_EXAMPLES})

CODE_SUCCESS = 200
#: Documented codes.
CODE_PARAM_IS_INVALID = -4010
CODE_REPEATED_SUBMIT_REQUEST = -1174
#: Seconds to wait after a repeated submit before trying again.
REPEATED_SUBMIT_BACKOFF = 1.0
CODE_INVALID_API_KEY = -2015  # "Invalid API-key, IP, or permissions for action."
#: Codes the docs do not list; our choice (in the style of the documented ones), used by the sandbox.
CODE_UNAUTHORIZED = -1002  # X-BH-TOKEN missing or unknown
CODE_TOKEN_EXPIRED = -1005
CODE_TOO_MANY_REQUESTS = -1003
CODE_INVALID_TIMESTAMP = -1021  # token request timestamp too far from the server's clock
CODE_INVALID_SIGNATURE = -1022  # token request signature does not match

#: Codes that mean "these credentials or this token were refused": a renewal may help once.
AUTH_CODES = frozenset(
    str(c) for c in (CODE_UNAUTHORIZED, CODE_TOKEN_EXPIRED, CODE_INVALID_API_KEY, CODE_INVALID_TIMESTAMP,
                     CODE_INVALID_SIGNATURE)
)

#: The create page lists the first four; the stablecoin payment push page adds the fifth.
EventTypeName = Literal[
    "ORDER_WEBHOOK",
    "GLOBAL_PAYMENT_WEBHOOK",
    "FUNDING_WEBHOOK",
    "ON_RAMP_WITHDRAW_WEBHOOK",
    "STABLE_COIN_PAYMENT_WEBHOOK",
]
"""A VelaFi event type (for editors: ``event_type`` also takes any ``str``, checked at preview)."""
EVENT_TYPES: tuple[str, ...] = get_args(EventTypeName)

# -- error envelope ---------------------------------------------------------------------------


class VelaFiDialect(Dialect):
    """``{code, msg, data}`` on every answer; success is ``code: 200`` whatever the HTTP status says.

    A business error answered with HTTP 200 keeps its status and says what it means
    where the core acts on it: token and credential codes mean 401 (renew the
    token once, then fail with a credentials hint), VelaFi's rate-limit code
    means 429 (not processed: safe to retry).
    """

    provider = "VelaFi"

    def error_fields(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        raw_code = body.get("code")
        raw_message = body.get("msg") or body.get("message")
        return (
            None if raw_code is None else str(raw_code),
            None if raw_message is None else str(raw_message),
        )

    def failure(self, response: httpx.Response) -> Failure | None:
        body = json_or_none(response)
        code, message = self.error_fields(body) if isinstance(body, dict) else (None, None)
        if code in AUTH_CODES:
            return Failure(response.status_code, code, message, means=401)
        if response.status_code >= 400:
            return self.failure_from(response, body)
        if code is None or code == str(CODE_SUCCESS):
            return None
        if code == str(CODE_TOO_MANY_REQUESTS):
            return Failure(response.status_code, code, message, means=429)
        return Failure(response.status_code, code, message)

    def retry_after(self, response: httpx.Response, clock: Clock = SYSTEM_CLOCK) -> float | None:
        # A repeated submit is refused while the identical first one is being processed: back
        # off for a whole second at least, not a few jittered milliseconds of the attempt cap.
        waited = super().retry_after(response, clock)
        body = json_or_none(response)
        code = body.get("code") if isinstance(body, dict) else None
        if code is not None and str(code) == str(CODE_REPEATED_SUBMIT_REQUEST):
            return max(waited or 0.0, REPEATED_SUBMIT_BACKOFF)
        return waited

    def is_transient(self, failure: Failure) -> bool:
        # A repeated submit means an identical request is (or was) being processed: the first
        # may have gone through, so the core looks for it before it tries again.
        return failure.code == str(CODE_REPEATED_SUBMIT_REQUEST) or super().is_transient(failure)

    def is_not_found(self, failure: Failure) -> bool:
        # An unknown (or deleted) id is reported as an invalid webhookId parameter.
        if failure.code == str(CODE_PARAM_IS_INVALID):
            return "webhookid" in (failure.message or "").replace(" ", "").lower()
        return super().is_not_found(failure)


# -- authentication --------------------------------------------------------------------------


def token_signature(api_secret: str, timestamp: str) -> str:
    """Hex HMAC-SHA256 of ``timestamp=<ms>`` keyed with the API secret."""
    return hmac.new(api_secret.encode(), f"timestamp={timestamp}".encode(), hashlib.sha256).hexdigest()


#: Renew a token this long before its ``expireTime``.
TOKEN_SKEW = 60.0


def _generate_token(client: ApiClient) -> tuple[str, float]:
    """``GET /v2/token/generate``, signed with the API secret: (token, when to renew it)."""
    api_key = client.connection.require("apiKey")
    api_secret = client.connection.require("apiSecret")
    timestamp = str(int(time.time() * 1000))
    signature = token_signature(api_secret, timestamp)
    response = client.request(
        "generate token",
        "GET",
        TOKEN_PATH,
        params={"timestamp": timestamp, "signature": signature},
        headers={API_KEY_HEADER: api_key},
        sensitive=(signature,),
        authenticated=False,
        credentials_request=True,
    )
    data = _envelope_data(client, response, "generate token")
    try:
        issued = TokenData.model_validate(data)
    except ValidationError:
        raise ApiError("VelaFi", "generate token", status=response.status_code,
                       message="the answer has no token") from None
    return issued.token, _renewal_time(issued.expire_time, TOKEN_SKEW, client.clock)


def _renewal_time(expire_time: str | int | None, skew: float, clock: Clock = SYSTEM_CLOCK) -> float:
    """When the cache should consider the token expired (epoch seconds by ``clock``)."""
    now = clock.time()
    try:
        expires = float(str(expire_time)) / 1000.0
    except ValueError:
        expires = now
    if expires <= now:
        # No usable expiry, or the clocks disagree: keep it a few minutes (a refusal renews earlier).
        expires = now + 300.0
    lifetime = expires - now
    if lifetime <= 2 * skew:
        # A short-lived token: renew half way rather than on every call.
        return now + skew + lifetime / 2
    return expires


# -- models --------------------------------------------------------------------------------------


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        hint = suggest(value.upper().replace("-", "_").replace(" ", "_"), EVENT_TYPES) or suggest(value, EVENT_TYPES)
        raise ValueError(f"must be one of {', '.join(EVENT_TYPES)}, got {value!r}{hint}")
    return value


def _webhook_id(value: str) -> str:
    # Goes into a URL path: only the characters VelaFi ids are made of (32 hex in the docs).
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise ValueError(f"must be a VelaFi webhook id (letters, digits, '-' or '_'), got {value!r}")
    return value


EventType = Annotated[str, AfterValidator(_event_type)]
WebhookId = Annotated[str, AfterValidator(_webhook_id)]
WritableStatus = Literal[10, 20]


class WebhookArgs(Payload):
    """The arguments of :class:`Webhook`."""

    #: VelaFi cannot change a webhook's event type.
    event_type: Annotated[EventType, Replaces()]
    url: HttpsUrl
    enabled: Flag = True
    webhook_id: Annotated[WebhookId | None, Adopts(), Output(id=True)] = None


class WebhookState(WebhookArgs):
    """The state of :class:`Webhook`: its arguments and what VelaFi reports."""

    status: Annotated[int | None, Output()] = None
    public_key: Annotated[str | None, Output()] = None


class CreateWebhookBody(Payload):
    """``POST /v2/webhook``."""

    event_type: EventType = Field(alias="eventType")
    url: HttpsUrl


class UpdateWebhookBody(Payload):
    """``PUT /v2/webhook/{webhookId}``: only the URL and the status can change."""

    url: HttpsUrl
    status: WritableStatus


class Envelope(Lenient):
    code: int | str
    msg: str | None = None
    data: Any = None


class TokenData(Lenient):
    token: str = Field(min_length=1)
    expire_time: str | int | None = Field(default=None, alias="expireTime")


class WebhookObject(Lenient):
    """A webhook as VelaFi returns it."""

    webhook_id: str = Field(alias="webhookId")
    event_type: str = Field(alias="eventType")
    url: str
    status: int
    public_key: str | None = Field(default=None, alias="publicKey")

    @property
    def remote_id(self) -> str:
        return self.webhook_id

    def properties(self) -> dict[str, Any]:
        """The resource's view: arguments and outputs (a status of 1, as in VelaFi's examples, is 10)."""
        status = STATUS_ACTIVE if self.status in ACTIVE_STATUSES else self.status
        return {
            "event_type": self.event_type,
            "url": self.url,
            "enabled": status == STATUS_ACTIVE,
            "status": status,
            "public_key": self.public_key or "",
        }


class DeleteResult(Lenient):
    result: bool


# -- client ---------------------------------------------------------------------------------------


def _envelope_data(client: ApiClient, response: httpx.Response, operation: str) -> Any:
    try:
        return Envelope.model_validate(client.json(response)).data
    except ValidationError:
        raise ApiError("VelaFi", operation, status=response.status_code,
                       message="the answer is not VelaFi's {code, msg, data} envelope") from None


def _webhook(data: Any, operation: str) -> WebhookObject:
    try:
        return WebhookObject.model_validate(data)
    except ValidationError:
        raise ApiError("VelaFi", operation, status=None, message="the answer holds no webhook") from None


class VelaFiApi(ListedApi[WebhookObject]):
    """VelaFi's webhook calls (``/v2/webhook``, ``/v2/webhooks``), each answer inside the
    ``{code, msg, data}`` envelope. There is no get-one call: :meth:`get` reads from the list."""

    def _data(self, operation: str, method: str, path: str, **options: Any) -> Any:
        return _envelope_data(self.client, self.client.request(operation, method, path, **options), operation)

    def list_status(self, status: int) -> list[WebhookObject]:
        operation = f"list webhooks (status {status})"
        data = self._data(operation, "GET", WEBHOOKS_PATH, params={"status": status})
        if data is None:
            return []
        if not isinstance(data, list):
            raise ApiError("VelaFi", operation, status=None, message="the answer holds no list of webhooks")
        return [_webhook(item, operation) for item in data]

    def list(self) -> list[WebhookObject]:
        """Every webhook that is not deleted (the list is filtered by status: ask for both)."""
        seen: dict[str, WebhookObject] = {}
        for status in (STATUS_ACTIVE, STATUS_DISABLED):
            for hook in self.list_status(status):
                if hook.status != STATUS_DELETED:
                    seen.setdefault(hook.webhook_id, hook)
        return [*seen.values()]

    def find(self, webhook_id: str, enabled_hint: Any = None) -> WebhookObject | None:
        """``webhook_id`` read now (not from a shared listing), its likely status's list first."""
        order = (STATUS_DISABLED, STATUS_ACTIVE) if enabled_hint is False else (STATUS_ACTIVE, STATUS_DISABLED)
        for status in order:
            for hook in self.list_status(status):
                if hook.webhook_id == webhook_id:
                    return None if hook.status == STATUS_DELETED else hook
        return None

    def create(self, body: CreateWebhookBody) -> WebhookObject:
        return _webhook(self._data("create webhook", "POST", WEBHOOK_PATH, json_body=body.model_dump(by_alias=True)),
                        "create webhook")

    def update(self, webhook_id: str, url: str, enabled: bool) -> WebhookObject:
        operation = f"update webhook {webhook_id}"
        # ``url`` is a validated argument and the status one of the two writable ones: nothing to check again.
        body = UpdateWebhookBody.model_construct(url=url, status=STATUS_ACTIVE if enabled else STATUS_DISABLED)
        data = self._data(operation, "PUT", f"{WEBHOOK_PATH}/{webhook_id}", json_body=body.model_dump())
        if isinstance(data, dict) and "webhookId" in data:
            return _webhook(data, operation)
        # No webhook in the answer: read what it is now.
        found = self.find(webhook_id, enabled)
        if found is None:
            raise NotFoundError("VelaFi", operation, status=None, message=f"webhook {webhook_id} does not exist")
        return found

    def delete(self, webhook_id: str) -> None:
        operation = f"delete webhook {webhook_id}"
        # Whatever a refusal says, a webhook that no longer exists is deleted: the lifecycle reads.
        data = self._data(operation, "DELETE", f"{WEBHOOK_PATH}/{webhook_id}")
        try:
            deleted = DeleteResult.model_validate(data).result
        except ValidationError:
            deleted = True  # an answer without a result: the envelope said success
        if not deleted:
            raise ApiError("VelaFi", operation, status=None, code=None, message="VelaFi answered result: false")


# -- provider ---------------------------------------------------------------------------------------


class VelaFiWebhookProvider(ListedWebhookProvider[WebhookArgs, WebhookObject]):
    """Create, read, update and delete a VelaFi webhook with the documented calls."""

    args_model = WebhookArgs
    state_model = WebhookState
    noun = "VelaFi webhook"
    connection_spec = CONNECTION

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        return VelaFiDialect(), TokenAuth(_generate_token, TOKEN_HEADER, skew=TOKEN_SKEW)

    def api(self) -> VelaFiApi:
        return VelaFiApi(self.client())

    def api_create(self, args: WebhookArgs) -> tuple[str, dict[str, Any]]:
        api = self.api()
        hook = api.create(request_body(CreateWebhookBody, args))
        if not args.enabled and hook.status != STATUS_DISABLED:
            # Creation always makes an active webhook; disabling is a second call.
            made = hook.webhook_id
            hook = self.finish_or_discard(lambda: api.update(made, args.url, enabled=False), lambda: api.delete(made))
        return hook.webhook_id, hook.properties()

    def api_update(self, id_: str, olds: Mapping[str, Any], args: WebhookArgs) -> dict[str, Any]:
        current = olds.get("event_type")
        if current is not None and current != args.event_type:
            raise InputError(
                "event_type",
                f"VelaFi cannot change the event type of webhook {id_} ({current}); "
                "declare it as it is, or drop webhook_id to create a new webhook",
            )
        return self.api().update(id_, args.url, args.enabled).properties()

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        self.api().delete(id_)

    def made_by(self, args: WebhookArgs, webhook: WebhookObject) -> bool:
        """Same event type and URL."""
        return webhook.event_type == args.event_type and webhook.url == args.url


# -- resource ------------------------------------------------------------------------------------------


class Webhook(WebhookResource, module="velafi", name="Webhook"):
    """A VelaFi webhook: pushes of one ``event_type`` to ``url``.

    - ``url`` and ``enabled`` change in place (``PUT /v2/webhook/{id}``).
    - ``event_type`` cannot be changed by VelaFi: changing it **replaces** the
      webhook (a new one is created, then the old one deleted; the new one has a
      new ``webhook_id`` and ``public_key``).
    - ``webhook_id`` adopts an existing webhook instead of creating one; the
      next ``up`` brings its URL and status to the declaration (its event type
      must match).
    - ``destroy`` deletes the webhook at VelaFi (status 30, not recoverable).

    Nothing here is secret: ``public_key`` is the RSA public key (base64 SPKI)
    that verifies VelaFi's ``signature`` header on pushes (hex RSA-SHA256 of
    the raw body). The credentials (``velafi:apiKey``, ``velafi:apiSecret``)
    are connection settings, never resource inputs, and never enter the state.
    """

    event_type: pulumi.Output[str]
    url: pulumi.Output[str]
    enabled: pulumi.Output[bool]
    webhook_id: pulumi.Output[str]
    """VelaFi's ``webhookId``."""
    status: pulumi.Output[int]
    """VelaFi's status code as read: 10 active, 20 disabled."""
    public_key: pulumi.Output[str]
    """Base64 SPKI RSA key verifying this webhook's pushes: ``verify.velafi(..., public_key=...)``."""

    _provider_class: ClassVar[type[WebhookProvider[Any]]] = VelaFiWebhookProvider

    def __init__(
        self,
        resource_name: str,
        *,
        event_type: pulumi.Input[EventTypeName | str],
        url: pulumi.Input[str],
        enabled: pulumi.Input[bool] = True,
        webhook_id: pulumi.Input[str] | None = None,
        account: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param event_type: ``ORDER_WEBHOOK``, ``GLOBAL_PAYMENT_WEBHOOK``, ``FUNDING_WEBHOOK``,
            ``ON_RAMP_WITHDRAW_WEBHOOK`` or ``STABLE_COIN_PAYMENT_WEBHOOK``. Changing it replaces
            the webhook.
        :param url: The https:// URL VelaFi pushes to.
        :param enabled: False keeps the webhook but stops pushes (status 20).
        :param webhook_id: Adopt this existing webhook instead of creating one.
        """
        super().__init__(
            resource_name,
            {"event_type": event_type, "url": url, "enabled": enabled, "webhook_id": webhook_id},
            opts,
            account=account,
        )


def list_webhooks(clients: Clients | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every active or disabled webhook of the account, as (webhook_id, resource properties)."""
    return VelaFiWebhookProvider(clients).webhooks()
