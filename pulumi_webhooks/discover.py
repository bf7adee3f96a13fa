"""``pulumi-webhooks discover <provider>``: declarations that adopt existing webhooks.

``pulumi import`` cannot work for Python dynamic resources, so adoption goes
through each resource's ``webhook_id`` argument: this lists what an account
already has (with the same connection settings as the resources: the selected
stack's config, read with ``pulumi config``, then environment variables; with
``--account``, that account's) and prints Python that declares it
exactly as it is, so the next ``pulumi up`` adds it to the state without
changing it remotely (adoption refuses a webhook that differs from its
declaration), and a preview after it shows no change. Each declaration is
``protect=True``: the webhooks were live before Pulumi knew them, so a
``pulumi destroy`` or a deleted line must not remove them without a deliberate
``pulumi state unprotect``. ``--exclude-stack`` leaves out the webhooks a stack
already holds. Secret values are never printed: they are read from stack
config, and the ``pulumi config set --secret`` commands to run are printed
with placeholders.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ._config import check_account_name, for_account, set_stack_config
from ._errors import WebhookError
from ._http import Clients
from ._lifecycle import WebhookProvider, WebhookResource
from ._registry import BY_NAME

__all__ = ["declaration", "discover", "held_by", "stack_config"]


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_").lower()
    return name if name and not name[0].isdigit() else f"w_{name}"


def _pulumi_json(*args: str) -> tuple[Any, str | None]:
    """The JSON a ``pulumi`` command prints, or (None, why not) without a CLI or on failure."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return None, "no pulumi CLI on PATH"
    done = subprocess.run([pulumi, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None, f"pulumi {' '.join(args)} failed: {done.stderr.strip()}"
    return json.loads(done.stdout or "{}"), None


def stack_config(stack: str | None = None) -> dict[str, str] | None:
    """The stack's config (secrets decrypted) as ``pulumi config`` shows it, or None when
    there is no Pulumi project or CLI here."""
    entries, failed = _pulumi_json("config", "--json", "--show-secrets", *(["--stack", stack] if stack else []))
    if failed is not None:
        if stack and not failed.startswith("no pulumi"):
            # A stack was asked for by name: not finding it is an error, not a fallback.
            raise WebhookError(failed)
        return None
    return {key: str(entry.get("value", "")) for key, entry in entries.items() if isinstance(entry, dict)}


def held_by(stack: str, provider: str) -> set[str]:
    """The ids of ``provider``'s webhooks that ``stack`` holds (from ``pulumi stack export``)."""
    exported, failed = _pulumi_json("stack", "export", "--stack", stack)
    if failed is not None:
        raise WebhookError(f"--exclude-stack {stack}: {failed}")
    deployment = exported.get("deployment") or {}
    kind = f"pulumi-python:dynamic/{provider}:{BY_NAME[provider].adopting_resource}"
    return {
        str(r["id"]) for r in deployment.get("resources") or []
        if r.get("type") == kind and r.get("id")
    }


def declaration(
    provider: str, webhook_id: str, props: Mapping[str, Any], account: str | None = None
) -> tuple[str, list[str]]:
    """Python that adopts one webhook, and the config commands its secrets need."""
    resource: type[WebhookResource] = BY_NAME[provider].adopting_resource_class()
    provider_cls: type[WebhookProvider[Any]] = resource._provider_class
    var = _identifier(f"{provider}_{webhook_id}")[:60]
    lines = [f"{var} = {provider}.{resource.__name__}(", f"    {f'{provider}-{webhook_id}'!r},"]
    commands: list[str] = []
    for name, info in provider_cls.args_model.model_fields.items():
        if name == provider_cls.adopt_argument:
            lines.append(f"    {name}={webhook_id!r},")
            continue
        if name in provider_cls.secret_properties:
            key = f"{var}_{name}"
            if name in props and props[name] is not None:
                lines.append(f"    {name}=config.require_secret({key!r}),")
                commands.append(f"pulumi config set --secret {key} '<current {name}>'")
            elif info.is_required():
                # Write-only and required (Kotani's secret): adoption writes it, so it must be chosen.
                lines.append(f"    {name}=config.require_secret({key!r}),  # never returned: `up` sets it")
                commands.append(f"pulumi config set --secret {key} '<the {name} to set>'")
            else:
                lines.append(f"    # {name}: never returned by the provider; declare it to set it")
            continue
        if name in props and props[name] is not None:
            lines.append(f"    {name}={props[name]!r},")
    if account:
        lines.append(f"    account={account!r},")
    lines.append("    opts=pulumi.ResourceOptions(protect=True),")
    lines.append(")")
    return "\n".join(lines), commands


def discover(
    provider: str,
    out: TextIO,
    *,
    account: str | None = None,
    stack: str | None = None,
    err: TextIO | None = None,
    read_stack: bool = False,
    exclude_stacks: Sequence[str] = (),
    clients: Clients | None = None,
) -> int:
    """Print adoption declarations for every webhook of ``provider``; 0 on success.

    Errors go to ``err`` (stderr), never into ``out``, so a generated file holds code only."""
    err = err or sys.stderr
    module = BY_NAME[provider].module()
    try:
        if account is not None:
            check_account_name(account)
        if read_stack or stack:
            config = stack_config(stack)
            if config is not None:
                set_stack_config(config)
            else:
                print("pulumi-webhooks discover: no Pulumi stack here; using environment variables only", file=err)
        with for_account(account):
            found: list[tuple[str, dict[str, Any]]] = module.list_webhooks(clients)
        held = set().union(*(held_by(name, provider) for name in exclude_stacks))
    except (WebhookError, ValueError) as exc:
        print(f"pulumi-webhooks discover: {exc}", file=err)
        return 1
    skipped = [webhook_id for webhook_id, _ in found if webhook_id in held]
    found = [(webhook_id, props) for webhook_id, props in found if webhook_id not in held]
    print(f"# {len(found)} existing {provider} webhook(s); paste into your Pulumi program.", file=out)
    if skipped:
        print(f"# Left out, held by {', '.join(exclude_stacks)}: {', '.join(skipped)}", file=out)
    print("# protect=True: `pulumi destroy` keeps them until `pulumi state unprotect` says otherwise.", file=out)
    print("import pulumi\n", file=out)
    print(f"from pulumi_webhooks import {provider}\n", file=out)
    print("config = pulumi.Config()\n", file=out)
    all_commands: list[str] = []
    for webhook_id, props in found:
        code, commands = declaration(provider, webhook_id, props, account)
        print(code + "\n", file=out)
        all_commands.extend(commands)
    if all_commands:
        print("# Then set the secrets they read (the provider's current values):", file=out)
        for command in all_commands:
            print(f"#   {command}", file=out)
    return 0
