"""Spritz Finance: integrator webhooks and the integrator-wide signing secret.

Two resources:

* :class:`IntegratorWebhook` — one webhook of the integrator account
  (``/v1/integrator/webhooks``). ``events`` changes in place (``PATCH``); a new
  ``url`` replaces the webhook, because Spritz cannot change a webhook's URL.
  Spritz disables a webhook by itself after repeated delivery failures and has
  no way to enable it again, so a webhook whose ``disabled`` output is true
  (seen by ``pulumi refresh``) is replaced by a new one on the next ``up``.
* :class:`WebhookSecret` — the secret Spritz signs every delivery with
  (``Signature`` header), shared by all the integrator's webhooks. Spritz never
  returns it; it is stored in the state as a secret. The sandbox host's docs
  set it with ``PUT``, the newer spec with ``POST``: the verb documented for the
  configured host is tried first (``PUT`` at ``sandbox.spritz.finance``, ``POST``
  anywhere else) and the other one after a 405 or 404 (setting a secret is
  rare, so the extra call is not worth remembering which verb worked).

Requests are signed the way Spritz recommends ("hmacAuth") when
``spritz:integratorSecret`` is set: ``X-Signature`` is
``sha256=`` + hex HMAC-SHA256 over ``"{timestamp}.{METHOD}.{path}.{bodyHash}"``,
where ``path`` is the request URL's pathname (a base-URL prefix included, as
the official SDK signs ``new URL(url).pathname``) plus the query parameters
sorted by key and encoded as JavaScript's ``encodeURIComponent`` does, and
``bodyHash`` is the hex SHA-256 of the body, or the empty string when there is
no body. Without an integrator secret the legacy, unsigned
``X-INTEGRATION-KEY`` header is sent instead.

Errors are problem details: a stable ``code`` (preferred over ``type`` and
``title``), the ``field`` at fault (named in the message) and ``retryable``,
which decides whether a failure is retried whatever its status.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl, quote, urlsplit

import pulumi
from pulumi.dynamic import CreateResult, DiffResult
from pydantic import AfterValidator, Field, ValidationError

from ._config import Connection, ConnectionSpec, Setting
from ._errors import ApiError, InputError, NotFoundError, RejectedError, WebhookError
from ._fields import (
    Adopts,
    AnyUrl,
    Lenient,
    NonEmptyStr,
    Output,
    Payload,
    Replaces,
    Secret,
    WriteOnly,
    event_list,
    request_body,
)
from ._http import ApiClient, ClientParts, Clients, Dialect, Failure, ListedApi, json_or_none, text_or_none
from ._lifecycle import ListedWebhookProvider, WebhookProvider, WebhookResource

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CONNECTION",
    "EVENTS",
    "EventName",
    "IntegratorWebhook",
    "WebhookSecret",
    "list_webhooks",
]

# -- connection -------------------------------------------------------------------------

CONNECTION = ConnectionSpec(
    namespace="spritz",
    title="Spritz",
    settings=(
        Setting("apiKey", "SPRITZ_API_KEY", secret=True, required=True),
        Setting("integratorKey", "SPRITZ_INTEGRATOR_KEY", secret=True, required=True),
        Setting("integratorSecret", "SPRITZ_INTEGRATOR_SECRET", secret=True),
        Setting("baseUrl", "SPRITZ_BASE_URL"),
        Setting("environment", "SPRITZ_ENVIRONMENT"),
    ),
    base_urls={
        "production": "https://platform.spritz.finance",
        "sandbox": "https://sandbox.spritz.finance",
    },
)

WEBHOOKS_PATH = "/v1/integrator/webhooks"
SECRET_PATH = "/v1/integrator/webhook-secret"

# -- errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpritzFailure(Failure):
    """A problem-details answer, with what Spritz says about retrying it."""

    retryable: bool | None = None
    field: str | None = None


class SpritzDialect(Dialect):
    """RFC 9457 problem details: ``{type, title, status, detail?, instance?}`` plus
    Spritz's ``code``, ``field`` and ``retryable``.

    The code is ``code`` (Spritz: stable, "branch on this"), else the problem
    ``type`` when it names one (not ``about:blank``), else the ``title``. The
    message is ``detail`` (else ``title``) followed by the field at fault and, for
    401 and 404 problems, ``realm``/``scope`` and ``resourceType``/``resourceId``.
    """

    provider = "Spritz"

    def failure(self, response: httpx.Response) -> Failure | None:
        if response.status_code < 400:
            return None
        body = json_or_none(response)
        base = self.failure_from(response, body)
        retryable = field = None
        if isinstance(body, dict):
            flag = body.get("retryable")
            # Only a JSON boolean is an answer; anything else leaves the status to decide.
            retryable = flag if isinstance(flag, bool) else None
            field = text_or_none(body.get("field"))
        return SpritzFailure(base.status, base.code, base.message, retryable=retryable, field=field)

    def error_fields(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        title = text_or_none(body.get("title"))
        kind = text_or_none(body.get("type"))
        code = text_or_none(body.get("code")) or (kind if kind and kind != "about:blank" else title)
        message = text_or_none(body.get("detail")) or title
        notes = [
            f"{label} {value}"
            for label, key in (("field", "field"), ("resource", "resourceType"), ("id", "resourceId"),
                               ("realm", "realm"), ("scope", "scope"))
            if (value := text_or_none(body.get(key)))
        ]
        if notes:
            message = f"{message or 'error'} ({', '.join(notes)})"
        return code, message

    def is_transient(self, failure: Failure) -> bool:
        # Spritz's own verdict wins over the status: a 503 marked not retryable is final,
        # a 409 marked retryable is worth another try.
        if isinstance(failure, SpritzFailure) and failure.retryable is not None:
            return failure.retryable
        return super().is_transient(failure)


# -- request signing ----------------------------------------------------------------------

#: What ``encodeURIComponent`` leaves as it is besides letters, digits and ``-_.~``.
_COMPONENT_SAFE = "!*'()"


def encode_component(value: str) -> str:
    """``value`` encoded as JavaScript's ``encodeURIComponent`` does (UTF-8, upper-case hex)."""
    return quote(value, safe=_COMPONENT_SAFE)


def canonical_query(raw_query: str) -> str:
    """The query string Spritz signs: the parameters (decoded as a browser's
    ``URLSearchParams`` decodes them, ``+`` being a space) sorted by key and re-encoded."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    # JavaScript sorts strings by UTF-16 code units; equal keys keep their order.
    pairs.sort(key=lambda pair: pair[0].encode("utf-16-be"))
    return "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in pairs)


def signed_path(url: httpx.URL) -> str:
    """The path Spritz signs for ``url``: its pathname, then ``?`` and the canonical query if any."""
    path = url.raw_path.decode("ascii").partition("?")[0] or "/"
    query = canonical_query(url.query.decode("ascii"))
    return f"{path}?{query}" if query else path


def request_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "{ts}.{METHOD}.{path}.{bodyHash}")>``; ``bodyHash`` is
    the hex SHA-256 of the body, or the empty string when there is none."""
    body_hash = hashlib.sha256(body).hexdigest() if body else ""
    message = f"{timestamp}.{method.upper()}.{path}.{body_hash}"
    return "sha256=" + hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class SpritzAuth:
    """Bearer API key plus the integrator key, HMAC-signed when a secret is configured.

    Immutable after construction (each request is signed on its own), so the
    gRPC threads can share it. There is no token to renew.
    """

    def __init__(self, connection: Connection) -> None:
        self._api_key = connection.require("apiKey")
        self._integrator_key = connection.require("integratorKey")
        self._secret = connection.get("integratorSecret") or None

    @property
    def signed(self) -> bool:
        return self._secret is not None

    def apply(self, client: ApiClient, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        if self._secret is None:
            request.headers["X-INTEGRATION-KEY"] = self._integrator_key
            return
        timestamp = str(int(time.time() * 1000))
        request.headers["X-Integrator-Key"] = self._integrator_key
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Signature"] = request_signature(
            self._secret, timestamp, request.method, signed_path(request.url), request.content
        )

    def renew(self, request: httpx.Request) -> bool:
        return False


# -- payloads -------------------------------------------------------------------------------

#: The seed's nine events, then the newer spec's (on-ramp, ACH debit returns) and the wildcard.
EventName = Literal[
    "account.created",
    "account.updated",
    "account.deleted",
    "payment.created",
    "payment.updated",
    "payment.completed",
    "payment.refunded",
    "verification.status.updated",
    "capabilities.updated",
    "onramp.created",
    "onramp.updated",
    "onramp.completed",
    "achDebitReturn.created",
    "achDebitReturn.updated",
    "*",
]
"""A Spritz event name, or ``"*"`` for every event (for editors: ``events`` also takes any ``str``,
checked at preview)."""
EVENTS: tuple[str, ...] = get_args(EventName)
WILDCARD = "*"


def _wildcard_alone(events: list[str]) -> list[str]:
    # '*' already means every event: a list that also names some is ambiguous.
    if WILDCARD in events and len(events) > 1:
        raise ValueError("'*' subscribes to every event; list it alone or name the events")
    return events


def _no_padding(value: str) -> str:
    # A pasted secret with a trailing newline would sign with the wrong key, silently.
    if value != value.strip():
        raise ValueError("must not start or end with white space")
    return value


Events = Annotated[event_list(EVENTS), AfterValidator(_wildcard_alone)]  # type: ignore[valid-type]
SigningSecret = Annotated[NonEmptyStr, AfterValidator(_no_padding)]


class WebhookUrl(Payload):
    """Where Spritz delivers: set on create, never changed (the docs only ask for a URI)."""

    url: AnyUrl


class UpdateWebhookBody(Payload):
    """``PATCH /v1/integrator/webhooks/{id}``: only the events can change."""

    events: Events = []  # type: ignore[valid-type]


class CreateWebhookBody(UpdateWebhookBody, WebhookUrl):
    """``POST /v1/integrator/webhooks``: ``{url, events}`` (pydantic puts ``url`` first)."""


class IntegratorWebhookArgs(CreateWebhookBody):
    """The arguments of :class:`IntegratorWebhook`."""

    #: Spritz cannot change a webhook's URL (redeclared to flag it; the body's rule is unchanged).
    url: Annotated[AnyUrl, Replaces()]
    webhook_id: Annotated[NonEmptyStr | None, Adopts(), Output(id=True)] = None


class IntegratorWebhookState(IntegratorWebhookArgs):
    """The state of :class:`IntegratorWebhook`: its arguments and what Spritz reports."""

    failure_count: Annotated[int | None, Output()] = None
    disabled: Annotated[bool | None, Output()] = None


class WebhookSecretArgs(Payload):
    """The arguments of :class:`WebhookSecret`, and the body that sets it: ``{secret}``."""

    #: Never returned by Spritz. (Markers leave the body as it is.)
    secret: Annotated[SigningSecret, Secret(), WriteOnly()]


class SpritzWebhook(Lenient):
    """A webhook as Spritz returns it."""

    id: str
    url: str
    events: list[str] = []
    failure_count: int = Field(0, alias="failureCount")
    disabled: bool = False

    @property
    def remote_id(self) -> str:
        return self.id

    def properties(self) -> dict[str, Any]:
        """As resource properties (sorted events: their order is never a change)."""
        return {
            "url": self.url,
            "events": sorted(set(self.events)),
            "failure_count": self.failure_count,
            "disabled": self.disabled,
        }


class DeletedWebhook(Lenient):
    id: str
    deleted: bool


class SecretConfigured(Lenient):
    secret_configured: bool = Field(alias="secretConfigured")


# -- client -------------------------------------------------------------------------------


def _webhook_path(webhook_id: str) -> str:
    return f"{WEBHOOKS_PATH}/{quote(webhook_id, safe='')}"


class SpritzApi(ListedApi[SpritzWebhook]):
    """Spritz's integrator webhook calls (``/v1/integrator/webhooks``) and the webhook secret's.
    There is no get-one call: :meth:`get` reads from the list."""

    def list(self) -> list[SpritzWebhook]:
        response = self.client.request("list webhooks", "GET", WEBHOOKS_PATH)
        body = self.client.json(response)
        if not isinstance(body, list):
            raise ApiError("Spritz", "list webhooks", status=response.status_code,
                           message="expected a list of webhooks")
        webhooks: list[SpritzWebhook] = []
        for item in body:
            try:
                webhooks.append(SpritzWebhook.model_validate(item))
            except ValidationError:
                continue  # an entry we cannot read is not one of ours to manage
        return webhooks

    def create(self, body: CreateWebhookBody) -> SpritzWebhook:
        return self.client.call(SpritzWebhook, "create webhook", "POST", WEBHOOKS_PATH, json_body=body.model_dump())

    def update(self, webhook_id: str, body: UpdateWebhookBody) -> SpritzWebhook | None:
        """The webhook as the answer shows it; None when the answer does not hold it (the newer
        spec does not pin its shape)."""
        response = self.client.request(
            "update webhook", "PATCH", _webhook_path(webhook_id), json_body=body.model_dump()
        )
        try:
            return SpritzWebhook.model_validate(self.client.json(response))
        except ValidationError:
            return None

    def delete(self, webhook_id: str) -> None:
        response = self.client.request("delete webhook", "DELETE", _webhook_path(webhook_id))
        if response.content:
            answer = json_or_none(response)
            if isinstance(answer, dict) and answer.get("deleted") is False:
                raise ApiError("Spritz", "delete webhook", status=response.status_code,
                               message=f"webhook {webhook_id} was not deleted")

    def set_secret(self, verb: str, body: WebhookSecretArgs) -> httpx.Response:
        # Setting the same secret twice is harmless, so a lost answer is simply retried.
        return self.client.request(
            "set webhook secret", verb, SECRET_PATH, json_body=body.model_dump(),
            idempotent=True, sensitive=(body.secret,),
        )


def secret_verbs(base_url: str) -> tuple[str, str]:
    """The verbs to set the webhook secret with at ``base_url``, in the order to try them:
    ``PUT`` first at the documented sandbox host (its docs say ``PUT``), ``POST`` first
    anywhere else (the newer spec)."""
    if urlsplit(base_url).hostname == urlsplit(CONNECTION.base_urls["sandbox"]).hostname:
        return ("PUT", "POST")
    return ("POST", "PUT")


# -- providers ------------------------------------------------------------------------------


class IntegratorWebhookProvider(ListedWebhookProvider[IntegratorWebhookArgs, SpritzWebhook]):
    """Spritz integrator webhooks: read is list-and-filter (there is no get-one)."""

    args_model = IntegratorWebhookArgs
    state_model = IntegratorWebhookState
    noun = "Spritz webhook"
    connection_spec = CONNECTION

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        return SpritzDialect(), SpritzAuth(connection)

    def api(self) -> SpritzApi:
        return SpritzApi(self.client())

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(id_, olds, news)
        if olds.get("disabled") is True:
            # Spritz cannot enable a webhook again: the only way back is a new one.
            return DiffResult(
                changes=True,
                replaces=sorted({*(result.replaces or []), "disabled"}),
                stables=result.stables,
                delete_before_replace=False,
            )
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = self._args(props)
        if args.webhook_id:
            live = self.api_read(args.webhook_id, {})
            if live is not None and live.get("disabled") is True:
                raise WebhookError(
                    f"Spritz: webhook {args.webhook_id} is disabled (after {live.get('failure_count')} failed "
                    "deliveries) and Spritz cannot enable it again; remove `webhook_id` so that Pulumi "
                    "replaces it with a new webhook"
                )
        return super().create(props)

    def api_create(self, args: IntegratorWebhookArgs) -> tuple[str, dict[str, Any]]:
        webhook = self.api().create(request_body(CreateWebhookBody, args))
        return webhook.id, webhook.properties()

    def api_update(
        self, id_: str, olds: Mapping[str, Any], args: IntegratorWebhookArgs
    ) -> dict[str, Any]:
        current = olds.get("url")
        if current is not None and current != args.url:
            # Only reachable when adopting: a declared URL change otherwise replaces.
            raise InputError(
                "url",
                f"Spritz cannot change the URL of webhook {id_} ({current!r}); declare that URL to adopt it, "
                "or leave out webhook_id to create a new webhook",
            )
        updated = self.api().update(id_, request_body(UpdateWebhookBody, args))
        if updated is not None:
            return updated.properties()
        live = self.api_read(id_, olds)  # the answer did not show it: read what is there
        if live is None:
            raise NotFoundError("Spritz", "update webhook", status=None, message=f"webhook {id_} is gone")
        return live

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        self.api().delete(id_)

    def made_by(self, args: IntegratorWebhookArgs, webhook: SpritzWebhook) -> bool:
        """The same URL and events, enabled: a disabled one is the webhook being replaced, never a
        new one. Spritz lists oldest first."""
        return webhook.url == args.url and sorted(set(webhook.events)) == args.events and not webhook.disabled


class WebhookSecretProvider(WebhookProvider[WebhookSecretArgs]):
    """The integrator-wide signing secret: write-only, no id, no delete endpoint."""

    args_model = WebhookSecretArgs
    state_model = WebhookSecretArgs  # no outputs beyond its argument
    noun = "Spritz webhook secret"
    connection_spec = CONNECTION

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        return SpritzDialect(), SpritzAuth(connection)

    #: The resource id: there is one secret per integrator account.
    resource_id = "webhook-secret"

    def _set(self, args: WebhookSecretArgs) -> dict[str, Any]:
        api = SpritzApi(self.client())
        api.client.add_secret(args.secret)
        first, second = secret_verbs(api.client.connection.base_url)
        try:
            response = api.set_secret(first, args)
        except (NotFoundError, RejectedError) as exc:
            if exc.status not in (404, 405):
                raise
            # This host documents the other verb: 405 (method not allowed) or 404 (no such route).
            try:
                response = api.set_secret(second, args)
            except (NotFoundError, RejectedError) as again:
                if again.status not in (404, 405):
                    raise
                raise type(again)(
                    "Spritz", "set webhook secret", status=again.status, code=again.code,
                    message=f"neither {first} nor {second} {SECRET_PATH} is accepted ({first}: HTTP {exc.status}, "
                            f"{second}: HTTP {again.status})",
                ) from None
        answer = api.client.parse(SecretConfigured, response, "set webhook secret")
        if not answer.secret_configured:
            raise ApiError("Spritz", "set webhook secret", status=response.status_code,
                           message="Spritz did not confirm the secret (secretConfigured is false)")
        return {}

    def api_create(self, args: WebhookSecretArgs) -> tuple[str, dict[str, Any]]:
        return self.resource_id, self._set(args)

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        # Spritz never returns the secret: what was set is what the state says.
        return {}

    def api_update(self, id_: str, olds: Mapping[str, Any], args: WebhookSecretArgs) -> dict[str, Any]:
        return self._set(args)

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        # There is no endpoint to remove the secret, and overwriting it with a random
        # value would silently break receivers: destroy only stops managing it.
        return None


# -- resources --------------------------------------------------------------------------------


class IntegratorWebhook(WebhookResource, module="spritz", name="IntegratorWebhook"):
    """A Spritz integrator webhook.

    * ``url`` — where Spritz delivers events (http or https). Changing it
      **replaces** the webhook: Spritz cannot change a webhook's URL.
    * ``events`` — event names (see :data:`EVENTS`); ``["*"]`` subscribes to
      every event, an empty list (the default, as in Spritz's API) to none.
      Changed in place. Order and duplicates never make a diff.
    * ``webhook_id`` — adopt an existing webhook instead of creating one (its
      URL must be the declared one; the events are updated to the declaration).

    Outputs: ``webhook_id``, ``failure_count`` (consecutive failed deliveries)
    and ``disabled``. Spritz disables a webhook after repeated failures and
    cannot enable it again: once ``pulumi refresh`` sees ``disabled``, the next
    ``up`` replaces the webhook with a new one.

    Destroy deletes the webhook at Spritz. Nothing here is secret; the
    deliveries are signed with the integrator's :class:`WebhookSecret`.
    """

    url: pulumi.Output[str]
    events: pulumi.Output[list[str]]
    webhook_id: pulumi.Output[str]
    """Spritz's id of the webhook."""
    failure_count: pulumi.Output[int]
    """Failed deliveries Spritz has counted."""
    disabled: pulumi.Output[bool]
    """Whether Spritz disabled the webhook after failures (the next ``up`` replaces it)."""

    _provider_class = IntegratorWebhookProvider

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        events: pulumi.Input[Sequence[pulumi.Input[EventName | str]]] | None = None,
        webhook_id: pulumi.Input[str] | None = None,
        account: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(resource_name, {"url": url, "events": events, "webhook_id": webhook_id}, opts, account=account)


class WebhookSecret(WebhookResource, module="spritz", name="WebhookSecret"):
    """The secret Spritz signs every delivery of the integrator with.

    * ``secret`` — **secret**, write-only: Spritz never returns it, so a change
      made elsewhere cannot be detected; changing it here sets it again (in
      place). Receivers verify deliveries with
      :func:`pulumi_webhooks.verify.spritz`.

    Spritz has no endpoint to remove the secret: destroy removes the resource
    from the stack and leaves the secret configured at Spritz (deliveries stay
    signed with it). Declare a new value to rotate it.
    """

    secret: pulumi.Output[str]

    _provider_class = WebhookSecretProvider

    def __init__(
        self,
        resource_name: str,
        *,
        secret: pulumi.Input[str],
        account: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(resource_name, {"secret": secret}, opts, account=account)


def list_webhooks(clients: Clients | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook of the integrator as (id, properties), for ``pulumi-webhooks discover``."""
    return IntegratorWebhookProvider(clients).webhooks()
