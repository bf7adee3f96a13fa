"""Adopting what exists: webhooks made outside Pulumi, `discover`, paste, `up` writes nothing."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from pulumi_webhooks import _config, _http, phonepe, safepay, spritz, velafi
from pulumi_webhooks.discover import discover
from pulumi_webhooks.sandbox import SandboxServer

from .conftest import StackFactory
from .harness import changes, project_on_disk

PASSWORD = "Dashboard2024"


def make_out_of_band(server: SandboxServer) -> None:
    """What a dashboard user made before the team adopted Pulumi."""
    _config.set_stack_config(server.sandbox.stack_config())
    try:
        phonepe.Webhook._provider_class().api_create(phonepe.Webhook._provider_class.args_model.model_validate(
            {"url": "https://legacy.example.com/phonepe", "events": ["pg.order.completed"],
             "username": "legacy01", "password": PASSWORD, "description": "made by hand"}))
        velafi.Webhook._provider_class().api_create(velafi.Webhook._provider_class.args_model.model_validate(
            {"event_type": "FUNDING_WEBHOOK", "url": "https://legacy.example.com/velafi", "enabled": False}))
        safepay.RaastWebhook._provider_class().api_create(
            safepay.RaastWebhook._provider_class.args_model.model_validate(
                {"url": "https://legacy.example.com/safepay", "event_types": ["refund.completed", "payment.failed"],
                 "description": "legacy"}))
        spritz.IntegratorWebhook._provider_class().api_create(
            spritz.IntegratorWebhook._provider_class.args_model.model_validate(
                {"url": "https://legacy.example.com/spritz", "events": ["payment.completed"]}))
    finally:
        _http.process_clients().close()
        _config.set_stack_config({})


def test_discover_then_up_adopts_without_writing(
    tmp_path: Path, sandbox_server: SandboxServer, engine_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_out_of_band(sandbox_server)
    _config.set_stack_config(sandbox_server.sandbox.stack_config())
    program = ["import pulumi", "from pulumi_webhooks import phonepe, safepay, spritz, velafi",
               "config = pulumi.Config()"]
    secret_keys: list[str] = []
    try:
        for provider in ("phonepe", "velafi", "safepay", "spritz"):
            out = io.StringIO()
            assert discover(provider, out=out) == 0
            text = out.getvalue()
            assert "1 existing" in text
            program.extend(line for line in text.splitlines()
                           if line and not line.startswith(("#", "import", "from", "config =")))
            secret_keys += re.findall(r"pulumi config set --secret (\S+) ", text)
    finally:
        _http.process_clients().close()
        _config.set_stack_config({})
    assert PASSWORD not in "\n".join(program)
    assert len(secret_keys) == 1  # PhonePe's password: read from config, not printed

    project = project_on_disk(tmp_path / "adopted", "\n".join(program) + "\n")
    stack = engine_stack(project)
    stack.secret_keys.add(secret_keys[0])
    stack.set_config({secret_keys[0]: PASSWORD})

    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 5}  # 4 webhooks enter the state, plus the stack
    assert stack.writes(mark) == [], "adoption wrote to a provider"
    assert changes(stack.preview()) == {}
    adopted = stack.resources("Webhook")
    assert len(adopted) == 4 and all(r.get("protect") is True for r in adopted)

    # A second discover, for what this stack does not hold yet, prints nothing to adopt twice.
    for key, value in {**stack.stack.workspace.env_vars, "PULUMI_HOME": str(stack.stack.workspace.pulumi_home),
                       "PATH": stack.stack.workspace.env_vars["PATH"]}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project)
    _config.set_stack_config(sandbox_server.sandbox.stack_config())
    try:
        out = io.StringIO()
        assert discover("phonepe", out=out, exclude_stacks=["test"]) == 0
    finally:
        _http.process_clients().close()
        _config.set_stack_config({})
    held_id = stack.only_webhook("phonepe")["id"]
    assert "# 0 existing phonepe webhook(s)" in out.getvalue()
    assert f"# Left out, held by test: {held_id}" in out.getvalue()
    assert "phonepe.Webhook(" not in out.getvalue()
    assert {p: len(stack.webhooks(p)) for p in ("phonepe", "velafi", "safepay", "spritz")} == {
        "phonepe": 1, "velafi": 1, "safepay": 1, "spritz": 1}
