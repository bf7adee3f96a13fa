"""PhonePe Payment Gateway webhooks (``/configs/v1/webhooks``).

One :class:`Webhook` is one webhook of a PhonePe merchant account: the HTTPS
URL PhonePe calls, the events it calls it for, and the username and password
whose ``SHA256(username:password)`` PhonePe sends in the ``Authorization``
header of every callback (check it with :func:`pulumi_webhooks.verify.phonepe`).

Lifecycle: every argument changes in place (``PUT``); only a different
``webhook_id`` replaces. ``pulumi destroy`` deletes the webhook at PhonePe
(one already gone counts as deleted). ``password`` is stored as a secret.
PhonePe returns the password in plain text, so a password changed in the
dashboard shows up on refresh like any other drift. An account holds at most
30 webhooks; a create past that fails with :class:`~pulumi_webhooks._errors.LimitError`.

``username`` takes 5-20 letters, digits and underscores. PhonePe's webhook
API pages say letters and digits only, its dashboard pages also allow
underscores: a webhook made in the dashboard may hold one, and adopting it must
work. PhonePe's API may still refuse an underscore in a create or an update
(the local sandbox does); ``pulumi up`` then reports PhonePe's answer.

Connection (stack config ``phonepe:*``, else ``PHONEPE_*``): ``clientId``,
``clientSecret`` (secrets), ``clientVersion`` (defaults to ``1`` only in the
``sandbox`` environment, as PhonePe documents), ``environment``, ``baseUrl``,
``authUrl``. Tokens come from another API than the webhooks in production
(``identity-manager`` beside ``pg``); see :func:`token_url` for where they are
fetched when ``baseUrl`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, get_args
from urllib.parse import quote, urlsplit

import pulumi
from pydantic import AfterValidator

from ._config import Connection, ConnectionSpec, Setting
from ._errors import ConfigurationError, LimitError, RejectedError
from ._fields import Adopts, Flag, HttpsUrl, Lenient, Output, Payload, Secret, event_list, request_body
from ._http import (
    TRANSIENT_STATUSES,
    ApiClient,
    ClientParts,
    Clients,
    Dialect,
    Failure,
    ListedApi,
    TokenAuth,
    offset_pages,
    text_or_none,
)
from ._lifecycle import ListedWebhookProvider, WebhookProvider, WebhookResource

__all__ = ["CONNECTION", "EVENTS", "EventName", "Webhook", "WebhookArgs", "WebhookState", "list_webhooks"]

# -- connection -----------------------------------------------------------------------------

CONNECTION = ConnectionSpec(
    namespace="phonepe",
    title="PhonePe",
    settings=(
        Setting("clientId", "PHONEPE_CLIENT_ID", secret=True, required=True),
        Setting("clientSecret", "PHONEPE_CLIENT_SECRET", secret=True, required=True),
        # Not secret, but a wrong one is refused like a wrong secret: name it when credentials fail.
        Setting("clientVersion", "PHONEPE_CLIENT_VERSION", credential=True),
        Setting("baseUrl", "PHONEPE_BASE_URL"),
        Setting("authUrl", "PHONEPE_AUTH_URL"),
        Setting("environment", "PHONEPE_ENVIRONMENT"),
    ),
    base_urls={
        "production": "https://api.phonepe.com/apis/pg",
        "sandbox": "https://api-preprod.phonepe.com/apis/pg-sandbox",
    },
)

#: The documented OAuth token endpoints (production lives on another API than the webhooks).
AUTH_URLS = {
    "production": "https://api.phonepe.com/apis/identity-manager/v1/oauth/token",
    "sandbox": "https://api-preprod.phonepe.com/apis/pg-sandbox/v1/oauth/token",
}
TOKEN_PATH = "/v1/oauth/token"
WEBHOOKS_PATH = "/configs/v1/webhooks"
#: PhonePe's documented per-account maximum.
MAX_WEBHOOKS = 30
#: Page size when listing: the account maximum, so one page is usually all of it.
PAGE_SIZE = MAX_WEBHOOKS


_DEFAULT_PORTS = {"https": 443, "http": 80}


def _comparable(url: str) -> tuple[str, str, str, str] | None:
    """``url`` as (scheme, host[:port], path, query) with scheme and host lower-cased, the
    scheme's default port and trailing slashes dropped; None when it is not a URL with a host.
    The path keeps its case: servers may tell paths apart by case."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{parts.hostname}:{port}"
    return scheme, host, parts.path.rstrip("/"), parts.query


def documented_environment(base_url: str) -> str | None:
    """The environment whose documented webhook host ``base_url`` is (however it is
    spelt: case of scheme and host, default port, trailing slash), or None."""
    wanted = _comparable(base_url)
    for environment, url in CONNECTION.base_urls.items():
        if wanted is not None and _comparable(url) == wanted:
            return environment
    return None


def token_url(connection: Connection) -> str:
    """Where tokens come from, first match wins:

    1. ``phonepe:authUrl``, when set;
    2. no ``phonepe:baseUrl``: the documented token URL of ``phonepe:environment``;
    3. a ``baseUrl`` that is one of PhonePe's documented webhook hosts: that host's
       environment's documented token URL (in production tokens come from
       ``identity-manager``, not from the ``pg`` host the webhooks live on);
    4. any other ``baseUrl``: ``<baseUrl>/v1/oauth/token``, as a self-hosted or local
       sandbox serves tokens and webhooks under one base (PhonePe's own sandbox does too).

    Without ``baseUrl`` the connection's base URL is the environment's documented host, so
    2 and 3 are one rule on the base URL the webhook calls use: tokens always come with it.
    """
    explicit = connection.get("authUrl")
    if explicit:
        url = explicit.rstrip("/")
        if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
            raise ConfigurationError(f"PhonePe: phonepe:authUrl must be an http(s) URL, not {url!r}")
        return url
    environment = documented_environment(connection.base_url)
    if environment is not None:
        return AUTH_URLS[environment]
    return f"{connection.base_url}{TOKEN_PATH}"


def client_version(connection: Connection) -> str:
    version = connection.get("clientVersion")
    if version:
        return version
    if connection.environment == "sandbox":
        return "1"  # PhonePe's documented value for its sandbox (UAT)
    return connection.require("clientVersion")


# -- errors -----------------------------------------------------------------------------------


class PhonePeDialect(Dialect):
    """PhonePe answers errors as ``{"code": "BAD_REQUEST", "message": "..."}``."""

    provider = "PhonePe"

    def error_fields(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        return text_or_none(body.get("code") or body.get("errorCode")), text_or_none(body.get("message"))

    def is_transient(self, failure: Failure) -> bool:
        # PhonePe's INTERNAL_SERVER_ERROR says "please try again in a while", whatever the status.
        return failure.status in TRANSIENT_STATUSES or failure.code == "INTERNAL_SERVER_ERROR"

    def is_not_found(self, failure: Failure) -> bool:
        # Undocumented: accept a 404, or a BAD_REQUEST whose message says the webhook is not there.
        if failure.status == 404:
            return True
        text = (failure.message or "").lower()
        return failure.status == 400 and ("not found" in text or "does not exist" in text)


# -- auth -------------------------------------------------------------------------------------


#: Lifetime assumed when a token answer carries no expiry; a 401 renews it earlier anyway.
_DEFAULT_TOKEN_LIFETIME = 300.0


class PhonePeAuth(TokenAuth):
    """``Authorization: O-Bearer <token>`` from OAuth client credentials.

    One token per client (so per credential set) per process, shared by every
    thread and reused until a minute before its ``expires_at``, as PhonePe asks.
    """

    def __init__(self, url: str) -> None:
        super().__init__(self._request_token, "Authorization", scheme="O-Bearer", skew=60.0)
        self._url = url

    def _request_token(self, client: ApiClient) -> tuple[str, float]:
        connection = client.connection
        form = {
            "client_id": connection.require("clientId"),
            "client_version": client_version(connection),
            "client_secret": connection.require("clientSecret"),
            "grant_type": "client_credentials",
        }
        operation = "fetch access token"
        # Asking for a token twice is harmless, so the POST may be retried.
        body = client.call(
            TokenResponse, operation, "POST", self._url, data=form, authenticated=False, idempotent=True,
            credentials_request=True,
        )
        now = client.clock.time()
        if body.expires_at:
            # Documented in seconds; tolerate milliseconds.
            expires = body.expires_at / 1000 if body.expires_at > 1e11 else body.expires_at
        elif body.expires_in:
            expires = now + body.expires_in
        else:
            expires = now + _DEFAULT_TOKEN_LIFETIME
        return body.access_token, expires


# -- models -----------------------------------------------------------------------------------

#: Event names from PhonePe's webhook pages (checkout/PG), plus those its refund,
#: payment-link and subscription pages list.
EventName = Literal[
    "checkout.order.completed",
    "checkout.order.failed",
    "pg.order.completed",
    "pg.order.failed",
    "pg.refund.accepted",
    "pg.refund.completed",
    "pg.refund.failed",
    "pg.transaction.failed",
    "paylink.order.completed",
    "paylink.order.failed",
    "subscription.setup.order.completed",
    "subscription.setup.order.failed",
    "subscription.notification.completed",
    "subscription.notification.failed",
    "subscription.redemption.order.completed",
    "subscription.redemption.order.failed",
    "subscription.redemption.order.cancelled",
    "subscription.redemption.transaction.completed",
    "subscription.redemption.transaction.failed",
    "subscription.paused",
    "subscription.unpaused",
    "subscription.revoked",
    "subscription.cancelled",
]
"""A PhonePe event name (for editors: ``events`` also takes any ``str``, checked at preview)."""
EVENTS: tuple[str, ...] = get_args(EventName)

_ALNUM = re.compile(r"[A-Za-z0-9]*")
#: The dashboard's rule (PhonePe's product webhook pages); its webhook API pages leave out the underscore.
_USERNAME = re.compile(r"[A-Za-z0-9_]*")


def _username(value: str) -> str:
    if not 5 <= len(value) <= 20:
        raise ValueError(f"must be 5 to 20 characters long, got {len(value)}")
    if not _USERNAME.fullmatch(value):
        raise ValueError("must contain only letters, digits and underscores (A-Z, a-z, 0-9, _)")
    return value


def _password(value: str) -> str:
    # Never echo the value: this message can reach logs.
    if not 8 <= len(value) <= 20:
        raise ValueError(f"must be 8 to 20 characters long, got {len(value)}")
    if not _ALNUM.fullmatch(value):
        raise ValueError("must contain only letters and digits (A-Z, a-z, 0-9)")
    if not (re.search(r"[A-Za-z]", value) and re.search(r"[0-9]", value)):
        raise ValueError("must contain both letters and digits")
    return value


def _webhook_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise ValueError("must be a PhonePe webhook id such as 'CF2410212252436169514926'")
    return value


Username = Annotated[str, AfterValidator(_username)]
Password = Annotated[str, AfterValidator(_password)]
WebhookId = Annotated[str, AfterValidator(_webhook_id)]


class CreateWebhookRequest(Payload):
    """``POST /configs/v1/webhooks`` body: a new webhook is always enabled."""

    url: HttpsUrl
    description: str = ""
    username: Username
    password: Password
    events: event_list(EVENTS, min_length=1)  # type: ignore[valid-type]


class UpdateWebhookRequest(CreateWebhookRequest):
    """``PUT /configs/v1/webhooks/{id}`` body: every field, and ``enabled``."""

    enabled: Flag


class WebhookArgs(UpdateWebhookRequest):
    """The arguments of :class:`Webhook`."""

    #: Redeclared to flag it; the bodies' rule is unchanged. (PhonePe returns it: not write-only.)
    password: Annotated[Password, Secret()]
    enabled: Flag = True
    webhook_id: Annotated[WebhookId | None, Adopts(), Output(id=True)] = None


class WebhookState(WebhookArgs):
    """The state of :class:`Webhook`: its arguments and when PhonePe made and last changed it."""

    created_at: Annotated[int | None, Output()] = None
    updated_at: Annotated[int | None, Output()] = None


class WebhookObject(Lenient):
    """A webhook as PhonePe returns it (the password included, in plain text)."""

    id: str
    url: str
    description: str | None = None
    username: str
    password: str | None = None
    events: list[str] = []
    createdAt: int | None = None
    updatedAt: int | None = None
    enabled: bool = True

    @property
    def remote_id(self) -> str:
        return self.id

    def properties(self) -> dict[str, Any]:
        """The resource's properties (arguments and outputs) this object stands for."""
        props: dict[str, Any] = {
            "url": self.url,
            "description": self.description or "",
            "username": self.username,
            "password": self.password,
            "events": sorted(set(self.events)),
            "enabled": self.enabled,
            "created_at": self.createdAt,
            "updated_at": self.updatedAt,
        }
        if self.password is None:
            del props["password"]  # not returned: keep the declared one rather than see drift
        return props


class TokenResponse(Lenient):
    """``POST /v1/oauth/token`` answer (only what we use)."""

    access_token: str
    token_type: str | None = None
    expires_at: float | None = None  # epoch seconds
    expires_in: float | None = None


class WebhookList(Lenient):
    """``GET /configs/v1/webhooks`` answer."""

    webhooks: list[WebhookObject] = []


# -- the API ----------------------------------------------------------------------------------


def _path(webhook_id: str) -> str:
    return f"{WEBHOOKS_PATH}/{quote(webhook_id, safe='')}"


class PhonePeApi(ListedApi[WebhookObject]):
    """PhonePe's webhook calls (``/configs/v1/webhooks``): list, create, update, delete. There is
    no get-one call: :meth:`get` reads from the list."""

    def list(self) -> Iterator[WebhookObject]:
        def page(offset: int) -> tuple[list[WebhookObject], None]:
            params = {"limit": PAGE_SIZE, "offset": offset}
            listed = self.client.call(WebhookList, "list webhooks", "GET", WEBHOOKS_PATH, params=params)
            return listed.webhooks, None  # no total is sent

        return offset_pages(page, lambda hook: hook.id)

    def create(self, body: CreateWebhookRequest) -> WebhookObject:
        operation = "create webhook"
        try:
            return self.client.call(
                WebhookObject, operation, "POST", WEBHOOKS_PATH, json_body=body.model_dump(), sensitive=[body.password]
            )
        except RejectedError as exc:
            if f"more than {MAX_WEBHOOKS}" in (exc.message or "").lower():
                raise LimitError(
                    exc.provider, operation, status=exc.status, code=exc.code,
                    message=f"{exc.message} (a PhonePe account holds at most {MAX_WEBHOOKS} webhooks: "
                    "delete unused ones, or adopt an existing one with webhook_id; Pulumi creates before "
                    "it deletes, so when this update also removes PhonePe webhooks, delete those first "
                    "with `pulumi destroy --target <urn>`, then run `pulumi up` again)",
                ) from None
            raise

    def update(self, webhook_id: str, body: UpdateWebhookRequest) -> WebhookObject:
        # PhonePe's answer for a missing webhook is undocumented (a 400 may mean it): the lifecycle
        # reads before it blames the arguments.
        return self.client.call(
            WebhookObject, f"update webhook {webhook_id}", "PUT", _path(webhook_id),
            json_body=body.model_dump(), sensitive=[body.password],
        )

    def delete(self, webhook_id: str) -> None:
        # A refusal is looked into by the lifecycle: already gone, however PhonePe words it, is success.
        self.client.request(f"delete webhook {webhook_id}", "DELETE", _path(webhook_id))


class PhonePeWebhookProvider(ListedWebhookProvider[WebhookArgs, WebhookObject]):
    """PhonePe webhooks: create (then disable if asked), list-and-filter read, PUT update, DELETE."""

    args_model = WebhookArgs
    state_model = WebhookState
    limit_per_account = MAX_WEBHOOKS
    noun = "PhonePe webhook"
    connection_spec = CONNECTION

    @staticmethod
    def client_parts(connection: Connection) -> ClientParts:
        return PhonePeDialect(), PhonePeAuth(token_url(connection))

    def api(self) -> PhonePeApi:
        return PhonePeApi(self.client())

    def api_create(self, args: WebhookArgs) -> tuple[str, dict[str, Any]]:
        api = self.api()
        hook = api.create(request_body(CreateWebhookRequest, args))
        if not args.enabled:
            # Create cannot say "disabled": a follow-up PUT does.
            made = hook.id
            hook = self.finish_or_discard(
                lambda: api.update(made, request_body(UpdateWebhookRequest, args)), lambda: api.delete(made)
            )
        return hook.id, hook.properties()

    def api_update(self, id_: str, olds: Mapping[str, Any], args: WebhookArgs) -> dict[str, Any]:
        return self.api().update(id_, request_body(UpdateWebhookRequest, args)).properties()

    def api_delete(self, id_: str, state: Mapping[str, Any]) -> None:
        self.api().delete(id_)

    def made_by(self, args: WebhookArgs, webhook: WebhookObject) -> bool:
        # A create always makes an enabled webhook, so ``enabled`` is not compared: the
        # lifecycle brings a match to the declaration (a PUT when it should be disabled).
        return (
            webhook.url == args.url and webhook.username == args.username
            and (webhook.description or "") == args.description and sorted(set(webhook.events)) == args.events
            and webhook.password in (None, args.password)
        )

    def age(self, webhook: WebhookObject) -> int:
        return webhook.createdAt or 0


# -- the resource -------------------------------------------------------------------------------


class Webhook(WebhookResource, module="phonepe", name="Webhook"):
    """A PhonePe Payment Gateway webhook.

    Every argument is changed in place with PhonePe's update call; giving a
    different ``webhook_id`` replaces the resource. ``pulumi destroy`` deletes
    the webhook at PhonePe. ``password`` is a secret in the state. PhonePe
    signs each callback with ``Authorization: SHA256(username:password)``.
    """

    url: pulumi.Output[str]
    events: pulumi.Output[list[str]]
    username: pulumi.Output[str]
    password: pulumi.Output[str]
    description: pulumi.Output[str]
    enabled: pulumi.Output[bool]
    webhook_id: pulumi.Output[str]
    """PhonePe's id of the webhook."""
    created_at: pulumi.Output[int]
    """When PhonePe created the webhook (epoch milliseconds)."""
    updated_at: pulumi.Output[int]
    """When PhonePe last changed the webhook (epoch milliseconds)."""

    _provider_class: ClassVar[type[WebhookProvider[Any]]] = PhonePeWebhookProvider

    def __init__(
        self,
        resource_name: str,
        *,
        url: pulumi.Input[str],
        events: pulumi.Input[Sequence[pulumi.Input[EventName | str]]],
        username: pulumi.Input[str],
        password: pulumi.Input[str],
        description: pulumi.Input[str] | None = None,
        enabled: pulumi.Input[bool] | None = None,
        webhook_id: pulumi.Input[str] | None = None,
        account: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare a webhook.

        :param url: the HTTPS URL PhonePe posts callbacks to.
        :param events: the events to receive (at least one; order and duplicates do not matter).
        :param username: 5-20 letters, digits or underscores; half of the callback's Authorization digest.
        :param password: 8-20 letters and digits, both present; stored as a secret.
        :param description: shown in PhonePe's dashboard (default empty).
        :param enabled: whether PhonePe sends callbacks (default true).
        :param webhook_id: adopt this existing webhook instead of creating one.
        """
        super().__init__(
            resource_name,
            {
                "url": url,
                "events": events,
                "username": username,
                "password": password,
                "description": description,
                "enabled": enabled,
                "webhook_id": webhook_id,
            },
            opts,
            account=account,
        )


def list_webhooks(clients: Clients | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook of the account as (id, resource properties), for ``discover``."""
    return PhonePeWebhookProvider(clients).webhooks()
