"""``pulumi-webhooks discover <provider>``: declarations that adopt existing webhooks.

``pulumi import`` cannot work for Python dynamic resources, so adoption goes
through each resource's ``webhook_id`` argument: this lists what an account
already has (with the same connection settings as the resources: environment
variables here, since there is no stack) and prints Python that declares it
exactly as it is, so the next ``pulumi up`` adds it to the state without
changing it remotely. Secret values are never printed: they are read from
stack config, and the ``pulumi config set --secret`` commands to run are
printed with placeholders.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any, TextIO

from ._errors import WebhookError
from ._lifecycle import WebhookProvider, WebhookResource

# provider -> the resource class that adopts its webhooks
RESOURCES = {
    "kotanipay": "IntegratorWebhook",
    "velafi": "Webhook",
    "safepay": "RaastWebhook",
    "spritz": "IntegratorWebhook",
    "phonepe": "Webhook",
}


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_").lower()
    return name if name and not name[0].isdigit() else f"w_{name}"


def declaration(provider: str, webhook_id: str, props: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Python that adopts one webhook, and the config commands its secrets need."""
    module = importlib.import_module(f"pulumi_webhooks.{provider}")
    resource: type[WebhookResource] = getattr(module, RESOURCES[provider])
    provider_cls: type[WebhookProvider[Any]] = resource._provider_class
    var = _identifier(f"{provider}_{webhook_id}")[:60]
    lines = [f"{var} = {provider}.{resource.__name__}(", f"    {f'{provider}-{webhook_id}'!r},"]
    commands: list[str] = []
    for name in provider_cls.args_model.model_fields:
        if name == provider_cls.adopt_argument:
            lines.append(f"    {name}={webhook_id!r},")
            continue
        if name in provider_cls.secret_properties:
            key = f"{var}_{name}"
            if name in props and props[name] is not None:
                lines.append(f"    {name}=config.require_secret({key!r}),")
                commands.append(f"pulumi config set --secret {key} '<current {name}>'")
            else:
                lines.append(f"    # {name}: never returned by the provider; declare it to set it")
            continue
        if name in props and props[name] is not None:
            lines.append(f"    {name}={props[name]!r},")
    lines.append(")")
    return "\n".join(lines), commands


def discover(provider: str, out: TextIO) -> int:
    """Print adoption declarations for every webhook of ``provider``; 0 on success."""
    module = importlib.import_module(f"pulumi_webhooks.{provider}")
    try:
        found: list[tuple[str, dict[str, Any]]] = module.list_webhooks()
    except WebhookError as exc:
        print(f"# error: {exc}", file=out)
        return 1
    print(f"# {len(found)} existing {provider} webhook(s); paste into your Pulumi program.", file=out)
    print("import pulumi\n", file=out)
    print(f"from pulumi_webhooks import {provider}\n", file=out)
    print("config = pulumi.Config()\n", file=out)
    all_commands: list[str] = []
    for webhook_id, props in found:
        code, commands = declaration(provider, webhook_id, props)
        print(code + "\n", file=out)
        all_commands.extend(commands)
    if all_commands:
        print("# Then set the secrets they read (the provider's current values):", file=out)
        for command in all_commands:
            print(f"#   {command}", file=out)
    return 0
