"""A local server that speaks the webhook APIs of all five providers.

Start it with ``pulumi-webhooks sandbox`` and point a stack at it with the
config it prints (``<ns>:baseUrl`` plus sandbox credentials).
"""

from __future__ import annotations

from ._app import (
    Delivery,
    Fault,
    HTTPError,
    MissingDependency,
    ProviderApp,
    Request,
    Response,
    Sandbox,
    SandboxTransport,
)
from ._server import SandboxServer

__all__ = [
    "Delivery",
    "Fault",
    "HTTPError",
    "MissingDependency",
    "ProviderApp",
    "Request",
    "Response",
    "Sandbox",
    "SandboxServer",
    "SandboxTransport",
    "apps",
]


PROVIDERS = ("kotanipay", "velafi", "safepay", "spritz", "phonepe")


def apps() -> list[type[ProviderApp]]:
    """The provider apps, in a stable order (each module defines one ProviderApp)."""
    import importlib

    found: list[type[ProviderApp]] = []
    for name in PROVIDERS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        found.extend(
            v for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, ProviderApp) and v is not ProviderApp
            and v.__module__ == module.__name__
        )
    return found
