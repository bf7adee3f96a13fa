"""Kotani Pay: the integrator's webhook setting, as a Pulumi resource.

Kotani Pay keeps **one** webhook setting per integrator account (URL, signing
secret, event subscriptions) and documents two calls for it::

    GET   /api/v3/integrator           -> {success, message, data: {id, webhook_url, webhook_events, ...}}
    PATCH /api/v3/integrator/webhook   {webhook_url, webhook_secret, webhook_events[]} -> same envelope

There is no create and no delete, so :class:`IntegratorWebhook` manages the
setting of the account its API key belongs to; its id is the integrator id.

- **create** takes the setting over: it reads what is there (kept in the
  ``original_url`` / ``original_events`` outputs). A setting in use (its URL is
  set) is taken over only as it is, like any adoption: when its URL or events
  differ from the declaration, create fails listing both and writes nothing.
  The one exception is the secret: Kotani never returns it, so it cannot be
  compared, and create PATCHes the declared secret (with the URL and events,
  unchanged). With no URL set there is nothing to take over and create sets
  the declared setting. Preview warns of the takeover.
- **update** PATCHes in place; no argument replaces the resource.
- **destroy** puts back the URL and events found at create, but only while the
  live setting is still the one this resource set; a setting changed since (in
  the dashboard, or taken over by another resource, e.g. after a rename) is left
  as it is. The secret found at create cannot be read back, so it is never
  restored: the last declared secret stays. When no URL was set at create there
  is nothing to put back and the setting is left as it is: Kotani refuses an
  empty URL, and sending ``webhook_events: []`` would subscribe it to every event.
- **refresh** reports a setting whose URL was cleared (or an API key of
  another account) as gone, so the next ``up`` applies it again.

Decisions where Kotani's docs are silent:

- PATCH is read as partial (an omitted field is kept), the only reading the
  docs allow, but every PATCH still names both ``webhook_url`` and
  ``webhook_events`` so that an omission can never mean "all events".
- ``events=[]`` (or leaving it out) subscribes to **all** events, including
  ones Kotani adds later. A read that returns every current event is treated
  as "all" when ``[]`` was declared, so the two never make a diff.
- ``secret`` is write-only: Kotani stores it encrypted and never returns it,
  so only a change of the declared value triggers a PATCH and a change made in
  the dashboard cannot be detected.
- With ``kotanipay:apiSecret`` set, every request is signed for Kotani's
  "isSecure" mode (``x-timestamp``, ``x-nonce``, ``x-signature``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import pulumi
from pydantic import ValidationError

from ._clock import SYSTEM_CLOCK, Clock
from ._config import Connection, ConnectionSpec, Setting
from ._errors import NotFoundError, TransientError
from ._fields import HttpsUrl, Lenient, NonEmptyStr, Output, Payload, Secret, WriteOnly, event_list
from ._http import ApiClient, ClientParts, Clients, Dialect, Failure, ProviderApi, json_or_none, parse_retry_after
from ._lifecycle import WebhookProvider, WebhookResource

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CONNECTION",
    "DEPRECATED_EVENTS",
    "EVENTS",
    "EventName",
    "IntegratorWebhook",
    "IntegratorWebhookArgs",
    "IntegratorWebhookProvider",
    "list_webhooks",
]

# -- connection ------------------------------------------------------------------------

CONNECTION = ConnectionSpec(
    namespace="kotanipay",
    title="Kotani Pay",
    settings=(
        Setting("apiKey", "KOTANIPAY_API_KEY", secret=True, required=True),
        # Only for accounts with request signing ("isSecure") enabled.
        Setting("apiSecret", "KOTANIPAY_API_SECRET", secret=True),
        Setting("baseUrl", "KOTANIPAY_BASE_URL"),
        Setting("environment", "KOTANIPAY_ENVIRONMENT"),
    ),
    base_urls={
        "production": "https://api.kotanipay.com",
        "sandbox": "https://sandbox-api.kotanipay.com",
    },
)

INTEGRATOR_PATH = "/api/v3/integrator"
WEBHOOK_PATH = "/api/v3/integrator/webhook"

# -- errors ----------------------------------------------------------------------------


class KotaniError(Lenient):
    """Kotani Pay's error envelope: ``{success: false, message, error_code, data: {errors?}}``."""

    success: bool = False
    # Read loosely: frameworks put a list of messages here, or a numeric code.
    message: Any = None
    error_code: Any = None
    data: Any = None
    # One of the two documented 429 shapes puts the wait at the top level.
    retry_after: Any = None

    def text(self) -> str | None:
        """The message with the ``data.errors`` details appended."""
        parts = self.message if isinstance(self.message, list) else [self.message]
        message = "; ".join(_render_error_item(p) for p in parts if p not in (None, "")) or None
        errors = self.data.get("errors") if isinstance(self.data, dict) else None
        if isinstance(errors, list) and errors:
            details = "; ".join(_render_error_item(e) for e in errors)
            message = f"{message}: {details}" if message else details
        return message

    def code(self) -> str | None:
        return None if self.error_code in (None, "") else str(self.error_code)

    def wait(self) -> float | None:
        """Seconds to wait, from either documented 429 shape."""
        nested = self.data.get("retryAfter") if isinstance(self.data, dict) else None
        for value in (nested, self.retry_after):
            seconds = _seconds(value)
            if seconds is not None:
                return seconds
        return None


def _render_error_item(item: Any) -> str:
    if isinstance(item, Mapping):
        field = item.get("field") or item.get("property") or item.get("path")
        text = item.get("message") or item.get("msg")
        if text is None and isinstance(item.get("constraints"), Mapping):
            text = "; ".join(str(v) for v in item["constraints"].values())
        text = str(text) if text is not None else json.dumps(item, sort_keys=True)
        return f"{field}: {text}" if field else text
    return str(item)


class KotaniDialect(Dialect):
    """Parses Kotani Pay's envelope; a 2xx that says ``success: false`` is a failure too
    (Kotani wraps every answer in ``success``; trust it over the status code)."""

    provider = "Kotani Pay"

    @staticmethod
    def _envelope(body: Any) -> KotaniError | None:
        if not isinstance(body, dict):
            return None
        try:
            return KotaniError.model_validate(body)
        except ValidationError:
            return None

    def failure(self, response: httpx.Response) -> Failure | None:
        body = json_or_none(response)
        if response.status_code < 400 and not (isinstance(body, dict) and body.get("success") is False):
            return None
        return self.failure_from(response, body)

    def error_fields(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        envelope = self._envelope(body)
        return (envelope.code(), envelope.text()) if envelope else (None, None)

    def retry_after(self, response: httpx.Response, clock: Clock = SYSTEM_CLOCK) -> float | None:
        """Retry-After, else either documented 429 body shape, else the X-RateLimit-Reset header."""
        header = parse_retry_after(response.headers.get("Retry-After"), clock)
        if header is not None:
            return header
        envelope = self._envelope(json_or_none(response))
        wait = envelope.wait() if envelope else None
        if wait is not None:
            return wait
        if response.headers.get("X-RateLimit-Remaining", "").strip() in ("0", ""):
            reset = _seconds(response.headers.get("X-RateLimit-Reset"))
            if reset is not None:
                # Undocumented unit: a large number is an epoch (s or ms), a small one a delay.
                if reset > 1e12:
                    reset = reset / 1000 - clock.time()
                elif reset > 1e9:
                    reset = reset - clock.time()
                return max(0.0, reset)
        return None


def _seconds(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


# -- auth ------------------------------------------------------------------------------


class ApiKeyAuth:
    """``Authorization: Bearer <apiKey>``, plus the isSecure signature when ``apiSecret`` is set.

    The key (or a JWT the user pastes as the key) is used as is; there is no
    token to fetch, so nothing is cached and a 401 is final. The signature is
    made per attempt: a retry carries a fresh timestamp and nonce, since Kotani
    accepts a nonce once.
    """

    def apply(self, client: ApiClient, request: httpx.Request) -> None:
        key = client.connection.require("apiKey")
        client.add_secret(key)
        request.headers["Authorization"] = f"Bearer {key}"
        api_secret = client.connection.get("apiSecret")
        if api_secret:
            sign_request(request, api_secret, _timestamp(), _nonce())

    def renew(self, request: httpx.Request) -> bool:
        return False  # the same key would be refused again


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _timestamp() -> str:
    return str(int(time.time()))  # Unix seconds: Kotani checks them within ±5 minutes


def _nonce() -> str:
    return str(uuid.uuid4())


def signing_message(request: httpx.Request, timestamp: str, nonce: str) -> bytes:
    """What isSecure mode signs: ``ts.nonce.<JSON body>`` for POST, PUT and PATCH, and
    ``ts.nonce.<last path segment>`` otherwise (``integrator`` for ``GET /api/v3/integrator``).

    The body is the bytes sent, which the client writes compact with non-ASCII as
    UTF-8, i.e. what ``JSON.stringify`` of the parsed body gives back on Kotani's side.
    """
    if request.method.upper() in _BODY_METHODS:
        tail = request.content
    else:
        tail = request.url.raw_path.split(b"?", 1)[0].rstrip(b"/").rsplit(b"/", 1)[-1]
    return f"{timestamp}.{nonce}.".encode() + tail


def sign_request(request: httpx.Request, api_secret: str, timestamp: str, nonce: str) -> None:
    digest = hmac.new(api_secret.encode(), signing_message(request, timestamp, nonce), hashlib.sha256)
    request.headers["x-timestamp"] = timestamp
    request.headers["x-nonce"] = nonce
    request.headers["x-signature"] = digest.hexdigest()


# -- models ----------------------------------------------------------------------------

#: The events of the seed OpenAPI and of the newer documentation sites.
EventName = Literal[
    "transaction.status.updated",
    "transaction.deposit.status.updated",
    "transaction.withdrawal.status.updated",
    "transaction.onramp.status.updated",
    "transaction.offramp.status.updated",
    "payment.confirmed",
    "kyc.status.changed",
    "refund.lightning.invoice_needed",
    "system.event",
    "refund.completed",
    "refund.failed",
    "settlement.approved",
    "settlement.rejected",
    "settlement.processed",
    "settlement.cancelled",
    "settlement.paused",
    "settlement.batch.approved",
    "settlement.batch.rejected",
    "settlement.batch.processed",
    "settlement.batch.partial",
    "settlement.batch.cancelled",
]
"""A Kotani Pay event name (for editors: ``events`` also takes any ``str``, checked at preview)."""
EVENTS: tuple[str, ...] = get_args(EventName)
#: Still accepted by Kotani, but documented as deprecated (use the per-type status events).
DEPRECATED_EVENTS: tuple[str, ...] = ("transaction.status.updated",)
_CURRENT_EVENTS = frozenset(EVENTS) - frozenset(DEPRECATED_EVENTS)

KotaniEvents = event_list(EVENTS)
"""Documented event names, sorted and de-duplicated; ``[]`` means every event."""


class IntegratorWebhookArgs(Payload):
    """The arguments of :class:`IntegratorWebhook`."""

    url: HttpsUrl
    #: Empty (the default) subscribes to all events, present and future.
    events: KotaniEvents = []  # type: ignore[valid-type]
    #: Signs deliveries; write-only (never returned by Kotani Pay).
    secret: Annotated[NonEmptyStr, Secret(), WriteOnly()]


class IntegratorWebhookState(IntegratorWebhookArgs):
    """The state of :class:`IntegratorWebhook`: its arguments and what Kotani Pay holds."""

    integrator_id: Annotated[str, Output(id=True)]
    #: The setting found at create, put back on destroy.
    original_url: Annotated[str | None, Output()] = None
    original_events: Annotated[list[str] | None, Output()] = None


class UpdateIntegratorWebhookDto(Payload):
    """Body of ``PATCH /api/v3/integrator/webhook`` (Kotani's own name for it)."""

    webhook_url: HttpsUrl | None = None
    webhook_secret: NonEmptyStr | None = None
    #: Empty or omitted means all events.
    webhook_events: KotaniEvents | None = None  # type: ignore[valid-type]


class IntegratorResponseDto(Lenient):
    """The integrator as Kotani returns it (the secret is never part of it)."""

    id: str
    organization: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None
    webhook_events: list[str] | None = None


class IntegratorEnvelope(Lenient):
    """``{success, message, data}`` around an :class:`IntegratorResponseDto`."""

    success: bool = True
    message: str | None = None
    data: IntegratorResponseDto


# -- client ----------------------------------------------------------------------------


class KotaniPayApi(ProviderApi):
    """Kotani Pay's integrator webhook setting: one per account, read with the integrator
    (``GET /api/v3/integrator``) and changed with ``PATCH /api/v3/integrator/webhook``. There is
    no list, create or delete call."""

    def get(self) -> IntegratorResponseDto:
        return self.client.call(IntegratorEnvelope, "read integrator webhook setting", "GET", INTEGRATOR_PATH).data

    def update(self, body: UpdateIntegratorWebhookDto, operation: str) -> IntegratorResponseDto:
        secret = body.webhook_secret
        return self.client.call(
            IntegratorEnvelope,
            operation,
            "PATCH",
            WEBHOOK_PATH,
            json_body=body.model_dump(exclude_none=True),
            idempotent=True,  # setting the same values twice is harmless
            sensitive=(secret,) if secret else (),
        ).data


def _means_all(events: Sequence[str]) -> bool:
    """Empty, or every current event: the two ways an API may say "all events"."""
    return not events or set(events) >= _CURRENT_EVENTS


def _subscription(events: Any) -> frozenset[str] | None:
    """Events as compared between settings: None stands for "every event"."""
    listed = [e for e in events or [] if isinstance(e, str)] if isinstance(events, (list, tuple)) else []
    return None if _means_all(listed) else frozenset(listed)


def _live(found: IntegratorResponseDto, declared_events: Any) -> dict[str, Any]:
    events = sorted(set(found.webhook_events or []))
    if isinstance(declared_events, list) and _means_all(declared_events) and _means_all(events):
        # Whatever form "all" came back in, it is what was declared.
        events = sorted(set(declared_events))
    return {"url": found.webhook_url, "events": events, "integrator_id": found.id}


def _is_set(found: IntegratorResponseDto) -> bool:
    return bool(found.webhook_url)


def _holds(found: IntegratorResponseDto, url: Any, events: Any) -> bool:
    """Whether the live setting delivers exactly ``events`` to ``url``."""
    return bool(url) and found.webhook_url == url and _subscription(found.webhook_events) == _subscription(events)


class _Takeovers:
    """Settings that a create in this process found and replaced, per host and integrator.

    Pulumi creates a renamed or replaced resource before it deletes the old one. The
    old one's delete must then leave the setting to the new one, even when both
    declare the same URL and events (the live setting alone cannot tell them apart):
    a setting a create took over is no longer its previous owner's to restore.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: set[tuple[str, str, str, frozenset[str] | None]] = set()

    def record(self, integrator_id: str, url: str, events: Any) -> None:
        with self._lock:
            self._found.add((CONNECTION.resolve().base_url, integrator_id, url, _subscription(events)))

    def taken(self, integrator_id: str, url: str, events: Any) -> bool:
        with self._lock:
            return (CONNECTION.resolve().base_url, integrator_id, url, _subscription(events)) in self._found

    def reset(self) -> None:
        with self._lock:
            self._found.clear()


_TAKEOVERS = _Takeovers()


def reset_takeovers() -> None:
    """Forget the settings creates of this process took over (a new operation, or a test)."""
    _TAKEOVERS.reset()


def _declared_body(args: IntegratorWebhookArgs) -> UpdateIntegratorWebhookDto:
    # Both url and events always: an omitted webhook_events would mean every event.
    return UpdateIntegratorWebhookDto.model_construct(  # validated as the arguments already
        webhook_url=args.url, webhook_secret=args.secret, webhook_events=args.events
    )


# -- provider --------------------------------------------------------------------------


class IntegratorWebhookProvider(WebhookProvider[IntegratorWebhookArgs]):
    """The integrator's webhook setting; the resource id is the integrator id."""

    args_model = IntegratorWebhookArgs
    state_model = IntegratorWebhookState
    noun = "Kotani Pay webhook setting"
    connection_spec = CONNECTION

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        return KotaniDialect(), ApiKeyAuth()

    def api(self) -> KotaniPayApi:
        return KotaniPayApi(self.client())

    def api_create(self, args: IntegratorWebhookArgs) -> tuple[str, dict[str, Any]]:
        api = self.api()
        found = api.get()
        if _is_set(found) and not _holds(found, args.url, args.events):
            # A setting in use is taken over only as it is: nothing is written.
            self.refuse_differences(
                f"the webhook setting of Kotani Pay integrator {found.id}", args, _live(found, args.events)
            )
        operation = "update integrator webhook setting"
        try:
            updated = api.update(_declared_body(args), operation)
        except TransientError as exc:
            # The PATCH was already retried. Creating again would read back our own
            # setting as the "original" one, so settle it here, with what was found.
            updated = self._settle_lost_patch(api, found, args, exc)
        if _is_set(found):
            _TAKEOVERS.record(found.id, str(found.webhook_url), found.webhook_events)
        live = _live(updated, args.events)
        live["original_url"] = found.webhook_url or ""
        live["original_events"] = sorted(set(found.webhook_events or [])) if _is_set(found) else []
        return found.id, live

    @staticmethod
    def _settle_lost_patch(
        api: KotaniPayApi, found: IntegratorResponseDto, args: IntegratorWebhookArgs, exc: TransientError
    ) -> IntegratorResponseDto:
        """The setting after a PATCH whose answer never came: applied if the read shows it,
        else a failure that must not be retried as a fresh create."""
        if exc.maybe_committed and not _holds(found, args.url, args.events):
            after = api.get()
            # A changed URL and events prove the PATCH landed, and with them its secret.
            if after.id == found.id and _holds(after, args.url, args.events):
                return after
        raise TransientError(
            exc.provider, exc.operation, status=exc.status, code=exc.code, message=exc.message,
            retry_after=exc.retry_after, maybe_committed=False,
        ) from None

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.api().get()
        if found.id != id_ or not _is_set(found):
            # Another account's key, or the setting was cleared in the dashboard.
            return None
        return _live(found, state.get("events"))

    def api_update(self, id_: str, olds: Mapping[str, Any], args: IntegratorWebhookArgs) -> dict[str, Any]:
        api = self.api()
        self._require_same_account(api, id_, "update integrator webhook setting")
        return _live(api.update(_declared_body(args), "update integrator webhook setting"), args.events)

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        api = self.api()
        found = self._require_same_account(api, id_, "restore integrator webhook setting")
        own_url, own_events = state.get("url"), state.get("events")
        if not _holds(found, own_url, own_events):
            # Changed since (dashboard, another resource, or already restored): not ours to undo.
            return
        if _TAKEOVERS.taken(id_, str(own_url), own_events):
            return  # a newer resource (a rename or replacement) took this setting over
        url = str(state.get("original_url") or "")
        if not url:
            # Nothing to put back. Kotani refuses an empty URL and [] means every event,
            # so no PATCH can narrow delivery: the setting stays as this resource left it.
            return
        events = sorted(set(state.get("original_events") or []))
        if _holds(found, url, events):
            return  # what create found is what is live: nothing to put back
        # Built unchecked: the events found at create may include ones this module does not know.
        # No secret: PATCH keeps it, and the one found at create was never readable.
        body = UpdateIntegratorWebhookDto.model_construct(webhook_url=url, webhook_events=events)
        api.update(body, "restore integrator webhook setting")

    def api_list(self, args: IntegratorWebhookArgs) -> list[str] | None:
        # One setting per account, present before any create: a list cannot tell
        # a setting a lost create made from one that was there already.
        return None

    def api_matches(self, args: IntegratorWebhookArgs) -> list[tuple[str, dict[str, Any]]]:
        """The account's setting, when it already delivers ``args.events`` to ``args.url``.

        Without the setting found before, its properties carry no ``original_url``: a
        resource recovered this way leaves the setting as it is on destroy.
        """
        found = self.api().get()
        if not _holds(found, args.url, args.events):
            return []
        return [(found.id, _live(found, args.events))]

    @staticmethod
    def _require_same_account(api: KotaniPayApi, id_: str, operation: str) -> IntegratorResponseDto:
        found = api.get()
        if found.id != id_:
            raise NotFoundError(
                "Kotani Pay", operation, status=None,
                message=f"the API key belongs to integrator {found.id}, not {id_}",
            )
        return found


# -- resource --------------------------------------------------------------------------


def _warn_deprecated(events: Any) -> None:
    if isinstance(events, (list, tuple)):
        for event in events:
            if event in DEPRECATED_EVENTS:
                pulumi.log.warn(
                    f"kotanipay.IntegratorWebhook: event {event!r} is deprecated by Kotani Pay; "
                    "subscribe to the transaction.<type>.status.updated events instead"
                )


class IntegratorWebhook(WebhookResource, module="kotanipay", name="IntegratorWebhook"):
    """The webhook setting of a Kotani Pay integrator account (one per account).

    Create takes over the account's existing setting (there is no create call)
    only as it is: a URL or events set there that differ from the declaration
    fail the create, listing both, and nothing is written. The exception is the
    secret, which Kotani never returns: it cannot be compared, so create sets
    the declared one. Preview warns of the takeover. Destroy puts back the URL
    and events found at create (there is no delete call), but only
    while the live setting is still the one this resource set;
    with nothing found at create, destroy leaves the setting as it is. The
    secret found then cannot be restored. Nothing replaces: every change is a
    PATCH in place. ``secret`` is stored as a Pulumi secret and is
    write-only: Kotani never returns it, so a change made in the dashboard
    cannot be detected.
    """

    url: pulumi.Output[str]
    events: pulumi.Output[list[str]]
    secret: pulumi.Output[str]
    integrator_id: pulumi.Output[str]
    """Kotani Pay's id of the integrator account whose setting this is."""
    original_url: pulumi.Output[str]
    """The webhook URL the account had before this resource was created (put back on destroy)."""
    original_events: pulumi.Output[list[str]]
    """The events the account had before this resource was created (put back on destroy)."""

    _provider_class = IntegratorWebhookProvider

    def _takeover_notice(self, provider: Any, props: Mapping[str, Any]) -> str | None:
        return (
            "kotanipay.IntegratorWebhook takes over the account's one webhook setting: when a URL is set there, "
            "`pulumi up` fails, listing the fields that differ, unless its URL and events are the declared ones; "
            "the declared secret is written either way (Kotani never returns it to compare)"
        )

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        secret: pulumi.Input[str],
        events: pulumi.Input[Sequence[pulumi.Input[EventName | str]]] | None = None,
        account: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param url: HTTPS URL Kotani Pay delivers events to (``webhook_url``).
        :param secret: shared secret Kotani Pay signs deliveries with (``X-Kotani-Signature``);
            write-only and stored as a secret.
        :param events: event names to receive; empty or omitted means **all events**.
            ``transaction.status.updated`` is accepted but deprecated.
        """
        if events is not None:
            pulumi.Output.from_input(events).apply(_warn_deprecated)
        super().__init__(resource_name, {"url": url, "events": events, "secret": secret}, opts, account=account)


# -- discovery -------------------------------------------------------------------------


def list_webhooks(clients: Clients | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The account's webhook setting as ``[(integrator_id, properties)]``; empty when none is set.

    The secret is never returned by Kotani Pay, so it is not among the properties.
    """
    found = IntegratorWebhookProvider(clients).api().get()
    if not _is_set(found):
        return []
    return [(found.id, {"url": found.webhook_url, "events": sorted(set(found.webhook_events or []))})]
