"""One list of providers: every entry resolves to its module, resources and sandbox app, and the
CLI, discover, local development and the sandbox offer exactly the registry's providers."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from pulumi_webhooks import _localdev, cli, discover, sandbox, verify
from pulumi_webhooks._lifecycle import WebhookResource
from pulumi_webhooks._registry import BY_NAME, NAMES, PROVIDERS, PaymentProvider
from pulumi_webhooks.sandbox import ProviderApp, Sandbox


def test_the_registry_lists_the_five_providers_once_in_order() -> None:
    assert NAMES == ("kotanipay", "velafi", "safepay", "spritz", "phonepe")
    assert [p.title for p in PROVIDERS] == ["Kotani Pay", "VelaFi", "Safepay Raast Wire", "Spritz Finance", "PhonePe"]
    assert list(BY_NAME) == list(NAMES)
    assert all(BY_NAME[p.name] is p for p in PROVIDERS)


@pytest.mark.parametrize("provider", PROVIDERS, ids=NAMES)
def test_each_entry_resolves_to_its_module_resources_and_sandbox_app(provider: PaymentProvider) -> None:
    module = provider.module()
    assert module.__name__ == provider.module_path == f"pulumi_webhooks.{provider.name}"
    assert provider.connection().namespace == provider.name
    assert provider.adopting_resource in provider.resources
    for resource in provider.resource_classes():
        assert issubclass(resource, WebhookResource)
        assert resource.__module__ == module.__name__
        assert resource._kind() == f"{provider.name}.{resource.__name__}"
        assert resource.__name__ in module.__all__
    assert provider.adopting_resource_class() is getattr(module, provider.adopting_resource)
    assert provider.events() and all(isinstance(e, str) for e in provider.events())

    app = provider.app_class()
    assert issubclass(app, ProviderApp) and app is not ProviderApp
    assert app.__module__ == provider.sandbox_module_path == f"pulumi_webhooks.sandbox.{provider.name}"
    assert (app.name, app.title) == (provider.name, provider.title)
    assert app.__name__ in sys.modules[app.__module__].__all__


def test_an_unlisted_resource_name_is_refused() -> None:
    with pytest.raises(KeyError, match="RaastWebhook"):
        BY_NAME["safepay"].resource_class("Webhook")


def _positional_choices(parser: argparse.ArgumentParser, command: str) -> list[str]:
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    provider = next(a for a in subcommands.choices[command]._actions if a.dest == "provider")
    return list(provider.choices or ())


@pytest.mark.parametrize("command", ["trigger", "discover"])
def test_the_cli_offers_the_registry_providers(command: str) -> None:
    assert _positional_choices(cli.parser(), command) == list(NAMES)


def test_use_sandbox_points_every_registry_provider_when_none_is_named() -> None:
    settings = Sandbox().connection_settings()
    command = cli.use_sandbox_command(settings, [], None)
    assert {arg.split("=", 1)[0].split(":", 1)[0] for arg in command if "=" in arg} == set(NAMES)


def test_the_cli_description_names_every_provider() -> None:
    assert all(p.title in cli.DESCRIPTION.replace("\n", " ") for p in PROVIDERS)


def test_the_sandbox_serves_the_registry_providers() -> None:
    assert sandbox.PROVIDERS == NAMES
    assert [app.name for app in sandbox.apps()] == list(NAMES)
    assert list(Sandbox().apps) == list(NAMES)


@pytest.mark.parametrize("provider", PROVIDERS, ids=NAMES)
def test_discover_declares_the_registry_adopting_resource(provider: PaymentProvider) -> None:
    code, _ = discover.declaration(provider.name, "wh_1", {})
    assert f" = {provider.name}.{provider.adopting_resource}(" in code.splitlines()[0]


@pytest.mark.parametrize("provider", PROVIDERS, ids=NAMES)
def test_local_development_triggers_every_registry_provider(provider: PaymentProvider) -> None:
    assert _localdev.events(provider.name)
    assert callable(getattr(verify, provider.name))


def test_verify_has_one_function_per_registry_provider() -> None:
    assert set(verify.__all__) - {"SignatureError"} == set(NAMES)


@pytest.mark.parametrize("module", ["pulumi_webhooks._registry", "pulumi_webhooks.cli"])
def test_the_registry_imports_no_provider_module_pydantic_or_httpx(module: str) -> None:
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] in ('pydantic', 'httpx', 'pulumi') "
        "or m.startswith('pulumi_webhooks.')]))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert set(loaded) <= {"pulumi_webhooks._errors", "pulumi_webhooks._registry", "pulumi_webhooks.cli"}, loaded
