"""A local server that speaks the webhook APIs of all five providers.

Start it with ``pulumi-webhooks sandbox`` and point a stack at it with the
config it prints (``<ns>:baseUrl`` plus sandbox credentials).
"""

from __future__ import annotations

from .._registry import NAMES
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
    apps,
)
from ._server import SandboxServer

__all__ = [
    "PROVIDERS",
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

#: The providers' names, in the order the sandbox serves them.
PROVIDERS = NAMES
