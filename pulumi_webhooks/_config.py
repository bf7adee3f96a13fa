"""Connection settings: stack config, then environment, then documented defaults.

The dynamic provider host hands the whole (decrypted) stack config to
``configure``; it is kept here, in the provider process, and never on a
pickled provider instance, so credentials never reach the state file and a
key rotation is never a diff.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigurationError

__all__ = [
    "Connection",
    "ConnectionSpec",
    "Setting",
    "account_env",
    "check_account_name",
    "current_account",
    "for_account",
    "located_at",
    "set_stack_config",
    "stack_config_value",
]

ENVIRONMENTS = ("production", "sandbox")

_lock = threading.Lock()
_stack_config: dict[str, str] = {}


def set_stack_config(values: Mapping[str, Any]) -> None:
    """Replace the stack config seen by this process (``ns:key`` -> value)."""
    cleaned = {str(k): str(v) for k, v in values.items() if v is not None}
    with _lock:
        _stack_config.clear()
        _stack_config.update(cleaned)


def stack_config_value(name: str) -> str | None:
    with _lock:
        return _stack_config.get(name)


# The base URL of the webhook being operated on, as recorded in its state: an existing
# webhook is read, updated and deleted where it was made, whatever the config says now.
_location: contextvars.ContextVar[str | None] = contextvars.ContextVar("pulumi_webhooks_location", default=None)


@contextlib.contextmanager
def located_at(base_url: str | None) -> Iterator[None]:
    """Within the block, :meth:`ConnectionSpec.resolve` uses ``base_url`` (when not None)."""
    token = _location.set(base_url.rstrip("/") if base_url else None)
    try:
        yield
    finally:
        _location.reset(token)


# The account of the resource being operated on (None: the namespace's top-level settings).
_account: contextvars.ContextVar[str | None] = contextvars.ContextVar("pulumi_webhooks_account", default=None)

#: An account name: it goes into config paths and environment variable names.
ACCOUNT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def check_account_name(name: str) -> str:
    if not ACCOUNT_NAME.fullmatch(name):
        raise ValueError(
            f"must be 1-64 letters, digits, '-' or '_', starting with a letter, got {name!r}"
        )
    return name


@contextlib.contextmanager
def for_account(name: str | None) -> Iterator[None]:
    """Within the block, :meth:`ConnectionSpec.resolve` reads the settings of account ``name``."""
    token = _account.set(name or None)
    try:
        yield
    finally:
        _account.reset(token)


def current_account() -> str | None:
    return _account.get()


def account_env(env: str, namespace: str, account: str) -> str:
    """``PHONEPE_CLIENT_SECRET`` of account ``brand-b`` is ``PHONEPE_BRAND_B_CLIENT_SECRET``."""
    prefix = f"{namespace.upper()}_"
    suffix = env[len(prefix):] if env.startswith(prefix) else env
    return f"{prefix}{re.sub(r'[^A-Z0-9]', '_', account.upper())}_{suffix}"


@functools.lru_cache(maxsize=16)
def _parsed_accounts(raw: str) -> Any:
    # Resolved on every call: parse each namespace's accounts once, not per request.
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class Setting:
    """One connection setting: its config key (``ns:key``) and environment variable.

    ``credential`` marks a setting that is part of the credentials without being
    secret (PhonePe's client version), so a refusal names it too; every secret
    setting is a credential.
    """

    key: str
    env: str
    secret: bool = False
    credential: bool = False
    #: Needed for every call: its absence fails ``pulumi preview``.
    required: bool = False


@dataclass(frozen=True)
class ConnectionSpec:
    """How to connect to one provider: its settings and documented hosts."""

    namespace: str
    title: str
    settings: tuple[Setting, ...]
    base_urls: Mapping[str, str]

    def setting(self, key: str) -> Setting:
        for s in self.settings:
            if s.key == key:
                return s
        raise KeyError(key)

    def key_of(self, key: str, account: str | None = None) -> str:
        """The config key a user sets: ``ns:key``, or ``ns:accounts.<name>.key``."""
        return f"{self.namespace}:accounts.{account}.{key}" if account else f"{self.namespace}:{key}"

    def env_of(self, key: str, account: str | None = None) -> str:
        env = self.setting(key).env
        return account_env(env, self.namespace, account) if account else env

    def set_with(self, key: str, account: str | None = None) -> str:
        """How to set ``key``: the config command and the environment variable."""
        s = self.setting(key)
        if account:
            flag = "--path --secret " if s.secret else "--path "
            command = f"pulumi config set {flag}'{self.key_of(key, account)}' …"
        else:
            command = f"pulumi config set {'--secret ' if s.secret else ''}{self.key_of(key)}"
        return f"`{command}` or {self.env_of(key, account)}"

    def _account_values(self, account: str) -> Mapping[str, Any]:
        raw = stack_config_value(f"{self.namespace}:accounts")
        if raw is None or raw == "":
            return {}
        accounts = _parsed_accounts(raw)
        if not isinstance(accounts, dict):
            raise ConfigurationError(
                f"{self.title}: {self.namespace}:accounts must be a map of account names to settings "
                f"(set it with `pulumi config set --path '{self.namespace}:accounts.<name>.<key>' …`)"
            )
        values = accounts.get(account)
        if values is None:
            return {}
        if not isinstance(values, dict):
            raise ConfigurationError(f"{self.title}: {self.namespace}:accounts.{account} must be a map of settings")
        unknown = sorted(set(values) - {s.key for s in self.settings})
        if unknown:
            raise ConfigurationError(
                f"{self.title}: {self.namespace}:accounts.{account}.{unknown[0]} is not a setting; "
                f"the settings are {', '.join(s.key for s in self.settings)}"
            )
        return values

    def resolve(self) -> Connection:
        """The settings as configured now, of the current account (see :func:`for_account`);
        inside :func:`located_at`, at the recorded base URL."""
        account = _account.get()
        from_account = self._account_values(account) if account else {}
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        for s in self.settings:
            config_key = self.key_of(s.key, account)
            env = self.env_of(s.key, account)
            raw = from_account.get(s.key) if account else stack_config_value(config_key)
            value = None if raw is None or raw == "" else str(raw)
            origin = config_key
            if value is None:
                value = os.environ.get(env) or None
                origin = env
            if value is not None:
                values[s.key] = value
                origins[s.key] = origin
        if account and not values:
            first = next(s.key for s in self.settings if s.secret)
            raise ConfigurationError(
                f"{self.title}: unknown account {account!r}: nothing is set under "
                f"{self.namespace}:accounts.{account} or {self.env_of(first, account)}; set its settings with "
                f"{self.set_with(first, account)}"
            )
        environment = values.get("environment", "production")
        if environment not in ENVIRONMENTS:
            raise ConfigurationError(
                f"{self.title}: {origins.get('environment', self.key_of('environment', account))} must be one of "
                f"{', '.join(ENVIRONMENTS)}, not {environment!r}"
            )
        if values.get("baseUrl"):
            base_url, origin = values["baseUrl"].rstrip("/"), origins["baseUrl"]
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in base_url):
                raise ConfigurationError(
                    f"{self.title}: {origin} must be an absolute http(s) URL, not {base_url!r} "
                    f"(set with {self.set_with('baseUrl', account)})"
                )
        else:
            base_url = self.base_urls[environment].rstrip("/")
            origin = f"the documented {environment} host"
        recorded = _location.get()
        if recorded is not None and recorded != base_url:
            base_url, origin = recorded, "the state (where the webhook was made)"
        return Connection(
            spec=self, environment=environment, base_url=base_url, values=values, base_url_origin=origin,
            account=account,
        )

    def missing(self) -> list[str]:
        """For ``pulumi preview``: what keeps the current account's settings from working, each
        naming the config key and environment variable to set. Calls nothing; shows no value."""
        try:
            connection = self.resolve()
        except ConfigurationError as exc:
            return [str(exc)]
        return [
            f"{self.title}: missing setting {self.key_of(s.key, connection.account)}; "
            f"set it with {self.set_with(s.key, connection.account)}"
            for s in self.settings
            if s.required and not connection.get(s.key)
        ]


@dataclass(frozen=True)
class Connection:
    """Resolved settings for one provider. Its repr never shows a secret."""

    spec: ConnectionSpec
    environment: str
    base_url: str
    values: Mapping[str, str] = field(repr=False)
    #: What chose ``base_url``: a config key, an environment variable, the documented host or the state.
    base_url_origin: str = ""
    #: The account these settings belong to (None: the namespace's top level).
    account: str | None = None

    def where(self) -> str:
        """The base URL and what chose it, with the settings that change it, for error messages."""
        origin = f"from {self.base_url_origin}; " if self.base_url_origin else ""
        return (f"{self.base_url} ({origin}set with {self.spec.key_of('baseUrl', self.account)} "
                f"or {self.spec.env_of('baseUrl', self.account)})")

    @property
    def credentials(self) -> tuple[str, ...]:
        """The config keys to check when the provider refuses the credentials."""
        return tuple(self.spec.key_of(s.key, self.account) for s in self.spec.settings if s.secret or s.credential)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def require(self, key: str) -> str:
        value = self.values.get(key)
        if not value:
            raise ConfigurationError(
                f"{self.spec.title}: missing setting {self.spec.key_of(key, self.account)}; "
                f"set it with {self.spec.set_with(key, self.account)}"
            )
        return value

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, for redaction."""
        return tuple(
            v for s in self.spec.settings if s.secret and (v := self.values.get(s.key))
        )

    @property
    def cache_key(self) -> tuple[Any, ...]:
        return (self.spec.namespace, self.account, self.base_url, tuple(sorted(self.values.items())))
