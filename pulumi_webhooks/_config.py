"""Connection settings: stack config, then environment, then documented defaults.

The dynamic provider host hands the whole (decrypted) stack config to
``configure``; it is kept here, in the provider process, and never on a
pickled provider instance, so credentials never reach the state file and a
key rotation is never a diff.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import ConfigurationError

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

    @property
    def credentials(self) -> tuple[str, ...]:
        """The config keys (``ns:key``) to check when the provider refuses the credentials."""
        return tuple(f"{self.namespace}:{s.key}" for s in self.settings if s.secret or s.credential)

    def describe(self, key: str) -> str:
        """How a user sets ``key``: both the config key and the environment variable."""
        s = self.setting(key)
        flag = "--secret " if s.secret else ""
        return f"`pulumi config set {flag}{self.namespace}:{s.key}` or {s.env}"

    def resolve(self) -> Connection:
        """The settings as configured now; inside :func:`located_at`, at the recorded base URL."""
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        for s in self.settings:
            value = stack_config_value(f"{self.namespace}:{s.key}")
            origin = f"{self.namespace}:{s.key}"
            if value is None or value == "":
                value = os.environ.get(s.env) or None
                origin = s.env
            if value is not None:
                values[s.key] = value
                origins[s.key] = origin
        environment = values.get("environment", "production")
        if environment not in ENVIRONMENTS:
            raise ConfigurationError(
                f"{self.title}: {self.namespace}:environment must be one of "
                f"{', '.join(ENVIRONMENTS)}, not {environment!r}"
            )
        if values.get("baseUrl"):
            base_url, origin = values["baseUrl"].rstrip("/"), origins["baseUrl"]
        else:
            base_url = self.base_urls[environment].rstrip("/")
            origin = f"the documented {environment} host"
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{self.title}: {self.namespace}:baseUrl must be an http(s) URL, not {base_url!r}"
            )
        recorded = _location.get()
        if recorded is not None and recorded != base_url:
            base_url, origin = recorded, "the state (where the webhook was made)"
        return Connection(
            spec=self, environment=environment, base_url=base_url, values=values, base_url_origin=origin
        )


@dataclass(frozen=True)
class Connection:
    """Resolved settings for one provider. Its repr never shows a secret."""

    spec: ConnectionSpec
    environment: str
    base_url: str
    values: Mapping[str, str] = field(repr=False)
    #: What chose ``base_url``: a config key, an environment variable, the documented host or the state.
    base_url_origin: str = ""

    def where(self) -> str:
        """The base URL and what chose it, with the settings that change it, for error messages."""
        base = self.spec.setting("baseUrl")
        origin = f"from {self.base_url_origin}; " if self.base_url_origin else ""
        return f"{self.base_url} ({origin}set with {self.spec.namespace}:{base.key} or {base.env})"

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def require(self, key: str) -> str:
        value = self.values.get(key)
        if not value:
            raise ConfigurationError(
                f"{self.spec.title}: missing setting {self.spec.namespace}:{key}; "
                f"set it with {self.spec.describe(key)}"
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
        return (self.spec.namespace, self.base_url, tuple(sorted(self.values.items())))
