"""Safepay Raast Wire: an aggregator's webhook endpoints, as the ``RaastWebhook`` resource.

Every call is under ``/v1/aggregators/{aggregator_id}/webhooks`` and carries
the aggregator's secret key in ``X-SFPY-AGGREGATOR-SECRET-KEY``. The webhook's
signing secret is made by Safepay: it is returned when the webhook is created
and when it is rotated (``PUT …/{id}/rotate``), and it is stored in the state
as a Pulumi secret, never in plaintext.

The aggregator a webhook lives in is fixed when it is created: from the
``aggregator_id`` argument, else the ``safepay:aggregatorId`` config or
``SAFEPAY_AGGREGATOR_ID``. That aggregator is recorded in the
``effective_aggregator_id`` output and every later call addresses the webhook
there, so a changed config value never moves or orphans an existing webhook,
and leaving ``aggregator_id`` unset never shows as a change.

Safepay's OpenAPI gives ``400 error.bad_request`` as the only error of the
calls on one webhook, while its error guide also lists 404: either answer may
mean the webhook is gone. Neither is taken as "gone" until the aggregator's
list confirms that the webhook is not in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import quote

import pulumi
from pulumi.dynamic import DiffResult
from pydantic import AfterValidator

from ._config import Connection, ConnectionSpec, Setting
from ._errors import ApiError, ConfigurationError, NotFoundError, RejectedError
from ._fields import (
    Adopts,
    Flag,
    HttpsUrl,
    Lenient,
    NonEmptyStr,
    Output,
    Payload,
    Replaces,
    Secret,
    event_list,
    request_body,
)
from ._http import ApiClient, ClientParts, Clients, Dialect, ProviderApi, offset_pages, text_or_none
from ._lifecycle import WebhookProvider, WebhookResource, is_unknown

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CONNECTION",
    "EVENTS",
    "EventName",
    "RaastWebhook",
    "RaastWebhookArgs",
    "RaastWebhookProvider",
    "RaastWebhookState",
    "list_webhooks",
]

# -- connection -----------------------------------------------------------------------

CONNECTION = ConnectionSpec(
    namespace="safepay",
    title="Safepay Raast Wire",
    settings=(
        Setting("secretKey", "SAFEPAY_SECRET_KEY", secret=True, required=True),
        Setting("aggregatorId", "SAFEPAY_AGGREGATOR_ID"),
        Setting("baseUrl", "SAFEPAY_BASE_URL"),
        Setting("environment", "SAFEPAY_ENVIRONMENT"),
    ),
    base_urls={
        "production": "https://api.getsafepay.com/raastwire",
        "sandbox": "https://dev.api.getsafepay.com/raastwire",
    },
)

AUTH_HEADER = "X-SFPY-AGGREGATOR-SECRET-KEY"
#: Endpoints asked for per list page (the docs give no maximum; this is modest).
PAGE_SIZE = 50


# -- errors -----------------------------------------------------------------------------


class SafepayDialect(Dialect):
    """Safepay answers errors in two shapes: ``{api_version, error: {code, message}}``
    (authentication) and a flat ``{code, message}`` (everything else)."""

    provider = "Safepay"

    def error_fields(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        inner = body.get("error")
        source = inner if isinstance(inner, dict) else body
        return text_or_none(source.get("code")), text_or_none(source.get("message"))


# -- auth ---------------------------------------------------------------------------------


class AggregatorKeyAuth:
    """The aggregator secret key as a header on every call.

    There is no token to cache or renew: the key is the credential, so a 401 is
    final. Stateless, hence safe for the provider host's concurrent threads.
    """

    def apply(self, client: ApiClient, request: httpx.Request) -> None:
        key = client.connection.require("secretKey")
        client.add_secret(key)
        request.headers[AUTH_HEADER] = key

    def renew(self, request: httpx.Request) -> bool:
        return False


# -- models -------------------------------------------------------------------------------

EventName = Literal[
    "payment.created",
    "payment.pending_authorization",
    "payment.authorized",
    "payment.completed",
    "payment.settled",
    "payment.refunded",
    "payment.refund_partial",
    "payment.rejected",
    "payment.failed",
    "payment.reversed",
    "payment.voided",
    "settlement.created",
    "settlement.processing",
    "settlement.completed",
    "settlement.failed",
    "settlement.on_hold",
    "settlement.reversed",
    "refund.created",
    "refund.completed",
    "refund.failed",
    "refund.canceled",
]
"""A Safepay Raast Wire event name (for editors: ``event_types`` also takes any ``str``, checked at preview)."""
EVENTS: tuple[str, ...] = get_args(EventName)

_AGGREGATOR_ID = re.compile(r"^agg_[A-Za-z0-9][A-Za-z0-9_-]*$")
_WEBHOOK_ID = re.compile(r"^wh_[A-Za-z0-9][A-Za-z0-9_-]*$")


def _aggregator_id(value: str) -> str:
    # It goes into every path, so nothing but an id's characters may pass.
    if not _AGGREGATOR_ID.match(value):
        raise ValueError(f"must be a Safepay aggregator id such as 'agg_2288490a-2176-…', got {value!r}")
    return value


def _webhook_id(value: str) -> str:
    if not _WEBHOOK_ID.match(value):
        raise ValueError(f"must be a Safepay webhook id such as 'wh_f52d84b4-a140-…', got {value!r}")
    return value


AggregatorId = Annotated[str, AfterValidator(_aggregator_id)]
WebhookId = Annotated[str, AfterValidator(_webhook_id)]
EventTypes = event_list(EVENTS, min_length=1)


class CreateWebhook(Payload):
    """Body of ``POST …/webhooks``: ``url`` and ``event_types`` are required."""

    url: HttpsUrl
    event_types: EventTypes  # type: ignore[valid-type]
    description: str = ""
    enabled: Flag = True


class UpdateWebhook(Payload):
    """Body of ``PUT …/webhooks/{id}``: every field optional."""

    url: HttpsUrl | None = None
    event_types: EventTypes | None = None  # type: ignore[valid-type]
    description: str | None = None
    enabled: Flag | None = None


class RaastWebhookArgs(CreateWebhook):
    """The resource's arguments: the webhook's fields plus where it lives and how it is managed."""

    #: Another aggregator than the one the webhook lives in replaces it (see the provider's diff).
    aggregator_id: Annotated[AggregatorId | None, Replaces()] = None
    rotation: NonEmptyStr | None = None
    webhook_id: Annotated[WebhookId | None, Adopts(), Output(id=True)] = None


class RaastWebhookState(RaastWebhookArgs):
    """The state of :class:`RaastWebhook`: its arguments and what Safepay made."""

    secret: Annotated[str | None, Output(), Secret()] = None
    secret_version: Annotated[int | None, Output()] = None
    created_at: Annotated[str | None, Output()] = None
    updated_at: Annotated[str | None, Output()] = None
    effective_aggregator_id: Annotated[str | None, Output()] = None


class Endpoint(Lenient):
    """A webhook endpoint as Safepay returns it; ``token`` is its id."""

    token: str
    aggregator_id: str = ""
    url: str = ""
    description: str | None = None  # a null from the API reads as ""
    enabled: bool | None = None  # a null from the API reads as enabled, the create default
    event_filter_json: str | None = None  # a JSON-encoded array of event names
    secret: str | None = None
    secret_version: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    secret_rotated_at: str | None = None

    def event_types(self) -> list[str]:
        if not self.event_filter_json:
            return []
        try:
            events = json.loads(self.event_filter_json)
        except json.JSONDecodeError:
            events = None
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ApiError("Safepay", "parse webhook", status=None,
                           message=f"event_filter_json of {self.token} is not a JSON array of event names")
        return sorted(set(events))


class EndpointData(Lenient):
    endpoint: Endpoint
    secret: str | None = None  # on create and rotate
    rotated_at: str | None = None  # on rotate


class EndpointResponse(Lenient):
    api_version: str = "v1"
    data: EndpointData


class EndpointPage(Lenient):
    endpoints: list[Endpoint] = []
    count: int = 0  # Safepay sends it as a string; pydantic reads either


class ListResponse(Lenient):
    api_version: str = "v1"
    data: EndpointPage


# -- client ---------------------------------------------------------------------------------


def _configured_aggregator() -> str:
    connection = CONNECTION.resolve()
    value = connection.get("aggregatorId")
    if not value:
        raise ConfigurationError(
            "Safepay Raast Wire: no aggregator id; pass aggregator_id= to the resource or set "
            f"{CONNECTION.set_with('aggregatorId', connection.account)}"
        )
    try:
        return _aggregator_id(value)
    except ValueError as exc:
        raise ConfigurationError(f"Safepay Raast Wire: safepay:aggregatorId {exc}") from None


def _collection(aggregator: str) -> str:
    return f"/v1/aggregators/{quote(aggregator, safe='')}/webhooks"


def _member(aggregator: str, webhook_id: str) -> str:
    return f"{_collection(aggregator)}/{quote(webhook_id, safe='')}"


def _live(endpoint: Endpoint, aggregator: str, secret: str | None = None) -> dict[str, Any]:
    """The resource properties an endpoint shows (the secret only when one is known)."""
    live: dict[str, Any] = {
        "url": endpoint.url,
        "event_types": endpoint.event_types(),
        "description": endpoint.description or "",
        "enabled": endpoint.enabled is not False,
        "secret_version": endpoint.secret_version,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "effective_aggregator_id": aggregator,
    }
    secret = secret or endpoint.secret
    if secret:
        live["secret"] = secret
    # What a read leaves out keeps its stored value.
    return {k: v for k, v in live.items() if v is not None}


def _may_be_gone(exc: NotFoundError | RejectedError) -> bool:
    """An answer to a call on one webhook that can mean it does not exist: a 404, or a 400
    (the only error Safepay's OpenAPI lists for those calls)."""
    return isinstance(exc, NotFoundError) or exc.status == 400


def _still_listed(exc: ApiError, aggregator: str, webhook_id: str) -> ApiError:
    """``exc`` for a webhook the list still holds: an error, never "gone"."""
    return ApiError(
        "Safepay", exc.operation, status=exc.status, code=exc.code,
        message=f"{exc.message or 'no message'} (webhook {webhook_id} is still listed in "
                f"aggregator {aggregator}, so it is not gone)",
    )


class SafepayApi(ProviderApi):
    """Safepay Raast Wire's webhook calls in one aggregator (``/v1/aggregators/{id}/webhooks``):
    list, get, create, update, rotate, delete. Every secret an answer carries is redacted from
    the client's messages from then on."""

    def __init__(self, client: ApiClient, aggregator: str) -> None:
        super().__init__(client)
        self.aggregator = aggregator

    def _member(self, webhook_id: str) -> str:
        return _member(self.aggregator, webhook_id)

    def _seen(self, data: EndpointData) -> EndpointData:
        self.client.add_secret(data.secret or data.endpoint.secret)
        return data

    def list(self) -> Iterator[Endpoint]:
        def page(offset: int) -> tuple[list[Endpoint], int]:
            listed = self.client.call(
                ListResponse, "list webhooks", "GET", _collection(self.aggregator),
                params={"limit": str(PAGE_SIZE), "offset": str(offset)},
            ).data
            for endpoint in listed.endpoints:
                self.client.add_secret(endpoint.secret)
            return listed.endpoints, listed.count

        return offset_pages(page, lambda endpoint: endpoint.token)

    def holds(self, webhook_id: str) -> bool:
        """Whether the list holds ``webhook_id``; a 404 of the list itself (no such API at the
        base URL) raises :class:`NotFoundError`."""
        return any(e.token == webhook_id for e in self.list())

    def get(self, webhook_id: str) -> Endpoint | None:
        """The endpoint, or None when it is gone: a 400 or 404 counts as gone only once the list
        agrees (a list that 404s means the base URL is wrong)."""
        try:
            data = self.client.call(EndpointResponse, "read webhook", "GET", self._member(webhook_id)).data
        except (NotFoundError, RejectedError) as exc:
            if not _may_be_gone(exc):
                raise
            if self.holds(webhook_id):
                raise _still_listed(exc, self.aggregator, webhook_id) from None
            return None
        return self._seen(data).endpoint

    def create(self, body: CreateWebhook) -> EndpointData:
        return self._seen(self.client.call(
            EndpointResponse, "create webhook", "POST", _collection(self.aggregator), json_body=body.model_dump()
        ).data)

    def update(self, webhook_id: str, body: UpdateWebhook) -> Endpoint:
        try:
            data = self.client.call(
                EndpointResponse, "update webhook", "PUT", self._member(webhook_id), json_body=body.model_dump()
            ).data
        except (NotFoundError, RejectedError) as exc:
            raise self._gone_or(exc, webhook_id) from None
        return self._seen(data).endpoint

    def rotate(self, webhook_id: str) -> EndpointData:
        try:
            data = self.client.call(
                EndpointResponse, "rotate webhook secret", "PUT", f"{self._member(webhook_id)}/rotate"
            ).data
        except (NotFoundError, RejectedError) as exc:
            raise self._gone_or(exc, webhook_id) from None
        return self._seen(data)

    def delete(self, webhook_id: str) -> None:
        try:
            self.client.request("delete webhook", "DELETE", self._member(webhook_id))
        except (NotFoundError, RejectedError) as exc:
            if not _may_be_gone(exc):
                raise
            # Already gone is success, but only once the list shows it is not there.
            if self.holds(webhook_id):
                raise _still_listed(exc, self.aggregator, webhook_id) from None

    def _gone_or(self, exc: NotFoundError | RejectedError, webhook_id: str) -> ApiError:
        """What a failed call on ``webhook_id`` means: gone (NotFoundError, which the lifecycle
        confirms with a read) when the list does not hold it, else the error itself."""
        if not _may_be_gone(exc) or isinstance(exc, NotFoundError):
            return exc
        try:
            if self.holds(webhook_id):
                return exc  # a 400 for a webhook that exists is a genuine bad request
        except NotFoundError:
            raise  # no list at this base URL: the lifecycle names the setting
        except ApiError:
            return exc  # unconfirmed: the answer stands as it came
        return NotFoundError(
            "Safepay", exc.operation, status=exc.status, code=exc.code,
            message=f"{exc.message or 'no message'} (webhook {webhook_id} is not in aggregator "
                    f"{self.aggregator}'s list)",
        )


# -- provider ---------------------------------------------------------------------------------


class RaastWebhookProvider(WebhookProvider[RaastWebhookArgs]):
    """Create/read/update/delete of one Safepay Raast webhook endpoint."""

    args_model = RaastWebhookArgs
    state_model = RaastWebhookState
    noun = "Safepay Raast webhook"
    connection_spec = CONNECTION

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        return SafepayDialect(), AggregatorKeyAuth()

    # -- where a webhook lives --------------------------------------------------------------
    @staticmethod
    def _stored_aggregator(state: Mapping[str, Any]) -> str:
        # The state of a webhook, or (when adopting) the declared arguments.
        for key in ("effective_aggregator_id", "aggregator_id"):
            value = state.get(key)
            if isinstance(value, str) and value and not is_unknown(value):
                return value
        return _configured_aggregator()

    # -- engine entry points ------------------------------------------------------------------
    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # ``aggregator_id`` replaces only when it names another aggregator than the
        # one the webhook lives in; left unset (config decides) it is never a change.
        news = dict(news)
        olds = dict(olds)
        declared = news.get("aggregator_id")
        effective = olds.get("effective_aggregator_id") or olds.get("aggregator_id")
        if not declared:
            news["aggregator_id"] = olds["aggregator_id"] = None
        elif not is_unknown(declared) and declared == effective:
            olds["aggregator_id"] = declared
        return super().diff(id_, olds, news)

    # -- API ---------------------------------------------------------------------------------
    def api(self, aggregator: str) -> SafepayApi:
        return SafepayApi(self.client(), aggregator)

    def api_create(self, args: RaastWebhookArgs) -> tuple[str, dict[str, Any]]:
        aggregator = args.aggregator_id or _configured_aggregator()
        made = self.api(aggregator).create(request_body(CreateWebhook, args))
        return made.endpoint.token, _live(made.endpoint, aggregator, made.secret)

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        aggregator = self._stored_aggregator(state)
        endpoint = self.api(aggregator).get(id_)
        # A secret in the answer (say, after a dashboard rotation) wins; none keeps the stored one.
        return None if endpoint is None else _live(endpoint, aggregator)

    def api_update(self, id_: str, olds: Mapping[str, Any], args: RaastWebhookArgs) -> dict[str, Any]:
        aggregator = self._stored_aggregator(olds)
        api = self.api(aggregator)
        live = _live(api.update(id_, request_body(UpdateWebhook, args)), aggregator)
        # Only a new ``rotation`` value rotates: not the first value at create,
        # not adoption (whose olds carry the declared value), not removing it.
        # (The engine drops null outputs, so an absent old value is "unset".)
        if args.rotation and args.rotation != olds.get("rotation"):
            rotated = api.rotate(id_)
            live = _live(rotated.endpoint, aggregator, rotated.secret)
        return live

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        self.api(self._stored_aggregator(state)).delete(id_)

    def api_list(self, args: RaastWebhookArgs) -> list[str] | None:
        """The endpoint ids of the aggregator a create of ``args`` lands in."""
        return [e.token for e in self.api(args.aggregator_id or _configured_aggregator()).list()]

    def landing(self, props: Mapping[str, Any]) -> str:
        # Creates may name any aggregator the key opens: each has its own list.
        return self._stored_aggregator(props)

    def api_matches(self, args: RaastWebhookArgs) -> list[tuple[str, dict[str, Any]]]:
        """Endpoints a create of ``args`` can have made, oldest first: same URL, events and
        description, in the aggregator it was sent to."""
        aggregator = args.aggregator_id or _configured_aggregator()
        matches = [
            e for e in self.api(aggregator).list()
            if e.url == args.url
            and e.event_types() == sorted(set(args.event_types))
            and (e.description or "") == args.description
        ]
        matches.sort(key=lambda e: e.created_at or "")  # a stable sort keeps list order on ties
        return [(e.token, _live(e, aggregator)) for e in matches]

    def _recovered(self, id_: str, args: RaastWebhookArgs, live: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        found = super()._recovered(id_, args, live)
        if "secret" in found[1]:
            return found
        # Made by this resource and never used, yet listed without its signing
        # secret: a rotation is the only way to learn one.
        aggregator = found[1].get("effective_aggregator_id") or args.aggregator_id or _configured_aggregator()
        rotated = self.api(aggregator).rotate(id_)
        return id_, {**found[1], **_live(rotated.endpoint, aggregator, rotated.secret)}


# -- resource ---------------------------------------------------------------------------------


class RaastWebhook(WebhookResource, module="safepay", name="RaastWebhook"):
    """A Safepay Raast Wire webhook endpoint of an aggregator.

    Changing ``url``, ``event_types``, ``description`` or ``enabled`` updates
    the webhook in place. Setting ``aggregator_id`` to another aggregator than
    the one the webhook lives in replaces it (a new webhook, with a new secret,
    is created there and the old one deleted); leaving it unset uses the
    ``safepay:aggregatorId`` config (or ``SAFEPAY_AGGREGATOR_ID``) at creation
    and never causes a change afterwards.

    ``secret`` is the base64 signing secret Safepay made for this webhook
    (verify deliveries with :func:`pulumi_webhooks.verify.safepay`); it is a
    Pulumi secret. Change ``rotation`` (to any new string) to have Safepay
    rotate it; ``secret_version`` counts the rotations.

    ``webhook_id`` adopts an existing webhook instead of creating one.

    ``pulumi destroy`` deletes the webhook at Safepay; one already deleted
    elsewhere counts as deleted.
    """

    url: pulumi.Output[str]
    event_types: pulumi.Output[list[str]]
    description: pulumi.Output[str]
    enabled: pulumi.Output[bool]
    aggregator_id: pulumi.Output[str | None]
    rotation: pulumi.Output[str | None]
    webhook_id: pulumi.Output[str]
    """Safepay's endpoint token (``wh_...``)."""
    secret: pulumi.Output[str]
    """The base64 signing secret (a Pulumi secret): ``verify.safepay(..., secret=...)``."""
    secret_version: pulumi.Output[int]
    """Incremented by Safepay at every rotation."""
    created_at: pulumi.Output[str]
    """When Safepay created the endpoint (RFC 3339)."""
    updated_at: pulumi.Output[str]
    """When Safepay last changed the endpoint (RFC 3339)."""
    effective_aggregator_id: pulumi.Output[str]
    """The aggregator the webhook lives in (``aggregator_id``, else the config's at creation)."""

    _provider_class = RaastWebhookProvider

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        event_types: pulumi.Input[Sequence[pulumi.Input[EventName | str]]],
        description: pulumi.Input[str] | None = None,
        enabled: pulumi.Input[bool] = True,
        aggregator_id: pulumi.Input[str] | None = None,
        rotation: pulumi.Input[str] | None = None,
        webhook_id: pulumi.Input[str] | None = None,
        account: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param url: https:// URL Safepay delivers events to.
        :param event_types: the events to receive (at least one; order and duplicates never matter).
        :param description: free text shown in Safepay's dashboard.
        :param enabled: whether Safepay delivers to it.
        :param aggregator_id: the aggregator (``agg_…``) to create it in; default: ``safepay:aggregatorId``.
        :param rotation: change to any new value to rotate the signing secret.
        :param webhook_id: an existing webhook (``wh_…``) to adopt instead of creating one.
        """
        super().__init__(
            resource_name,
            {
                "url": url,
                "event_types": event_types,
                "description": description,
                "enabled": enabled,
                "aggregator_id": aggregator_id,
                "rotation": rotation,
                "webhook_id": webhook_id,
            },
            opts,
            account=account,
        )


# -- discovery -----------------------------------------------------------------------------------


def list_webhooks(clients: Clients | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook of the configured aggregator as (id, resource properties).

    The signing secrets are left out: they are never printed.
    """
    aggregator = _configured_aggregator()
    found: list[tuple[str, dict[str, Any]]] = []
    for endpoint in RaastWebhookProvider(clients).api(aggregator).list():
        props = _live(endpoint, aggregator)
        props.pop("secret", None)
        props.pop("effective_aggregator_id")
        props["aggregator_id"] = aggregator
        found.append((endpoint.token, props))
    return found
