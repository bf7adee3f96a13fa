"""The payment providers this package supports, each listed once, in the order everything shows them.

The CLI, ``discover``, the sandbox, local webhook development and the tests take
their provider lists from :data:`PROVIDERS`. Entries hold module paths, not
modules: a program imports only the provider modules it uses, and importing this
one costs nothing beyond the standard library. Supporting another provider means
adding its module, its sandbox app and one entry here, which names both.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ._config import ConnectionSpec
    from ._lifecycle import WebhookResource
    from .sandbox._app import ProviderApp

__all__ = ["BY_NAME", "NAMES", "PROVIDERS", "PaymentProvider"]


class PaymentProvider(NamedTuple):
    """One payment provider: where its resources and its sandbox app live."""

    #: The module under ``pulumi_webhooks``, the config namespace and the sandbox's path prefix.
    name: str
    #: How the provider is named to people, e.g. "Safepay Raast Wire".
    title: str
    #: The resource classes of ``pulumi_webhooks.<name>``, in the order the docs list them.
    resources: tuple[str, ...]
    #: The resource that ``pulumi-webhooks discover`` declares to adopt an existing webhook.
    adopting_resource: str
    #: The :class:`~pulumi_webhooks.sandbox.ProviderApp` subclass in ``pulumi_webhooks.sandbox.<name>``.
    sandbox_app: str
    #: The attribute of the module holding the event names a delivery can carry.
    events_attribute: str = "EVENTS"

    @property
    def module_path(self) -> str:
        return f"pulumi_webhooks.{self.name}"

    @property
    def sandbox_module_path(self) -> str:
        return f"pulumi_webhooks.sandbox.{self.name}"

    def module(self) -> ModuleType:
        return importlib.import_module(self.module_path)

    def resource_class(self, name: str) -> type[WebhookResource]:
        if name not in self.resources:
            raise KeyError(f"{self.name} has no resource {name!r}; one of {', '.join(self.resources)}")
        resource: type[WebhookResource] = getattr(self.module(), name)
        return resource

    def resource_classes(self) -> tuple[type[WebhookResource], ...]:
        return tuple(self.resource_class(name) for name in self.resources)

    def adopting_resource_class(self) -> type[WebhookResource]:
        return self.resource_class(self.adopting_resource)

    def connection(self) -> ConnectionSpec:
        spec: ConnectionSpec = self.module().CONNECTION
        return spec

    def events(self) -> tuple[str, ...]:
        names: tuple[str, ...] = getattr(self.module(), self.events_attribute)
        return names

    def app_class(self) -> type[ProviderApp]:
        app: type[ProviderApp] = getattr(importlib.import_module(self.sandbox_module_path), self.sandbox_app)
        return app


PROVIDERS: tuple[PaymentProvider, ...] = (
    PaymentProvider(
        name="kotanipay", title="Kotani Pay", resources=("IntegratorWebhook",),
        adopting_resource="IntegratorWebhook", sandbox_app="KotaniPayApp",
    ),
    PaymentProvider(
        name="velafi", title="VelaFi", resources=("Webhook",),
        adopting_resource="Webhook", sandbox_app="VelaFiApp", events_attribute="EVENT_TYPES",
    ),
    PaymentProvider(
        name="safepay", title="Safepay Raast Wire", resources=("RaastWebhook",),
        adopting_resource="RaastWebhook", sandbox_app="SafepayApp",
    ),
    PaymentProvider(
        name="spritz", title="Spritz Finance", resources=("IntegratorWebhook", "WebhookSecret"),
        adopting_resource="IntegratorWebhook", sandbox_app="SpritzApp",
    ),
    PaymentProvider(
        name="phonepe", title="PhonePe", resources=("Webhook",),
        adopting_resource="Webhook", sandbox_app="PhonePeApp",
    ),
)

NAMES: tuple[str, ...] = tuple(p.name for p in PROVIDERS)

BY_NAME: Mapping[str, PaymentProvider] = {p.name: p for p in PROVIDERS}
