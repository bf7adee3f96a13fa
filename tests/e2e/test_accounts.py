"""Several accounts of one provider in one stack, and every connection mistake failing at
preview with the key to set, against two loopback sandboxes (one per account)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_webhooks import phonepe
from pulumi_webhooks.sandbox import SandboxServer

from .conftest import StackFactory
from .harness import EngineStack, changes
from .test_discover import PASSWORD, make_out_of_band

URL = "https://hooks.example.com/phonepe"


@pytest.fixture
def brand_b(second_sandbox: SandboxServer) -> SandboxServer:
    """Account brandB's provider: a sandbox of its own."""
    return second_sandbox


def set_account(stack: EngineStack, account: str, sandbox: SandboxServer, provider: str = "phonepe") -> None:
    """The account's settings as structured config (`pulumi config set --path ...`)."""
    settings = sandbox.sandbox.stack_config()
    secret_keys = set(sandbox.sandbox.secret_config_keys())
    for key, value in settings.items():
        ns, name = key.split(":", 1)
        if ns == provider:
            stack.stack.set_config(f"{ns}:accounts.{account}.{name}",
                                   auto.ConfigValue(value=value, secret=key in secret_keys), path=True)


def hooks(accounts: dict[str, str | None]) -> None:
    for name, account in accounts.items():
        hook = phonepe.Webhook(name, url=f"{URL}/{name}", events=["pg.order.completed"], username="accounts01",
                               password="Accounts01pass", account=account)
        pulumi.export(name, hook.webhook_id)


def test_two_accounts_in_one_stack_and_an_account_change_replaces(
    engine_stack: StackFactory, brand_b: SandboxServer
) -> None:
    stack = engine_stack(lambda: hooks({"main": None, "brand-b": "brandB"}))
    set_account(stack, "brandB", brand_b)
    assert changes(stack.up()) == {"create": 3}
    at_b = brand_b.sandbox.apps["phonepe"].webhooks()
    assert [h["url"] for h in stack.webhooks("phonepe")] == [f"{URL}/main"]
    assert [h["url"] for h in at_b] == [f"{URL}/brand-b"]
    assert changes(stack.preview()) == {}
    # The account name is in the state; its credentials are not.
    state = stack.state_text()
    app = brand_b.sandbox.apps["phonepe"]
    for key, value in app.credentials().items():
        if key in app.secret_settings():
            assert value not in state, key
    [b] = [r for r in stack.resources("phonepe:Webhook") if r["urn"].endswith("::brand-b")]
    assert b["outputs"]["account"] == "brandB"

    # Moving a webhook to another account is a replacement: made there, deleted here.
    stack.set_program(lambda: hooks({"main": "brandB", "brand-b": "brandB"}))
    previewed = changes(stack.preview())
    assert previewed == {"replace": 1}, previewed
    stack.up()
    assert stack.webhooks("phonepe") == []
    assert sorted(h["url"] for h in brand_b.sandbox.apps["phonepe"].webhooks()) == [f"{URL}/brand-b", f"{URL}/main"]
    assert changes(stack.refresh()) == {}
    stack.destroy()
    assert brand_b.sandbox.apps["phonepe"].webhooks() == []


def test_each_connection_mistake_fails_preview_naming_the_key(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: hooks({"main": None}))
    good = dict(stack.sandbox_config)
    secret = good["phonepe:clientSecret"]

    stack.stack.remove_config("phonepe:clientSecret")
    message = stack.failed_preview()
    assert "missing setting phonepe:clientSecret" in message and "PHONEPE_CLIENT_SECRET" in message

    stack.set_config({**good, "phonepe:environment": "staging"})
    message = stack.failed_preview()
    assert "phonepe:environment must be one of production, sandbox, not 'staging'" in message

    stack.stack.remove_config("phonepe:environment")
    stack.set_config({**good, "phonepe:baseUrl": "localhost:8080/phonepe"})
    message = stack.failed_preview()
    assert "phonepe:baseUrl must be an absolute http(s) URL" in message and "PHONEPE_BASE_URL" in message

    stack.set_config(good)
    stack.set_program(lambda: hooks({"main": "brandX"}))
    message = stack.failed_preview()
    assert "unknown account 'brandX'" in message
    assert "phonepe:accounts.brandX.clientId" in message and "PHONEPE_BRANDX_CLIENT_ID" in message
    assert secret not in message


def test_discover_reads_the_stacks_config_for_an_account(
    tmp_path: Path, engine_stack: StackFactory, brand_b: SandboxServer
) -> None:
    make_out_of_band(brand_b)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: discovering\nruntime: python\n")
    (project / "__main__.py").write_text("")
    stack = engine_stack(project)
    set_account(stack, "brandB", brand_b)
    env = {**os.environ, **stack.stack.workspace.env_vars}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pulumi_webhooks.cli", "discover", *args], cwd=project,
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    found = run("phonepe", "--account", "brandB", "--stack", "test")
    assert found.returncode == 0, found.stderr
    assert "https://legacy.example.com/phonepe" in found.stdout and "account='brandB'," in found.stdout
    assert PASSWORD not in found.stdout + found.stderr

    unknown = run("phonepe", "--account", "nope", "--stack", "test")
    assert unknown.returncode == 1
    assert "unknown account 'nope'" in unknown.stderr and "PHONEPE_NOPE_CLIENT_ID" in unknown.stderr
    assert unknown.stdout == ""  # nothing but code ever goes to the generated file
