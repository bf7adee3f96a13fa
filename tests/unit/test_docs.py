"""The reference documents every resource argument, output, config key and environment variable,
and the README's two commands and pipeline example point at things that exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from pulumi_webhooks._fields import flags_of
from pulumi_webhooks._lifecycle import WebhookResource
from pulumi_webhooks._registry import NAMES, PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
RESOURCES = [(provider.name, resource) for provider in PROVIDERS for resource in provider.resources]


def section(title: str) -> str:
    start = REFERENCE.index(title)
    end = REFERENCE.find("\n## ", start + 1)
    return REFERENCE[start:end if end > 0 else None]


@pytest.mark.parametrize(("module", "name"), RESOURCES)
def test_every_argument_and_output_is_documented(module: str, name: str) -> None:
    resource: type[WebhookResource] = getattr(importlib.import_module(f"pulumi_webhooks.{module}"), name)
    state = resource._provider_class.state_model  # the arguments and the outputs, with their flags
    text = section(f"`pulumi_webhooks.{module}.{name}`")
    for prop in state.model_fields:
        assert f"`{prop}`" in text, f"{module}.{name}.{prop} is not in docs/reference.md"
    for secret in flags_of(state, resource._provider_class.args_model.model_fields).secret_properties:
        assert f"**`{secret}`**" in text, f"{module}.{name}.{secret} is not marked secret"


@pytest.mark.parametrize("module", NAMES)
def test_every_connection_setting_is_documented(module: str) -> None:
    spec = importlib.import_module(f"pulumi_webhooks.{module}").CONNECTION
    row = next(line for line in REFERENCE.splitlines() if line.startswith(f"| `{module}` | ") and "`" in line
               and spec.settings[0].env in line)
    for setting in spec.settings:
        key = f"**`{setting.key}`**" if setting.secret else f"`{setting.key}`"
        assert key in row and f"`{setting.env}`" in row, (module, setting)
    for environment, url in spec.base_urls.items():
        assert url in REFERENCE, (module, environment)


def test_readme_starts_with_the_two_commands_and_they_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(scripts/\w+)", readme.split("```")[1], re.M)
    assert commands == ["scripts/demo", "scripts/test"]
    for command in commands:
        assert (ROOT / command).exists()
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_pipeline_example_uses_commands_that_exist() -> None:
    from pulumi_webhooks.cli import main

    workflow = (ROOT / "examples" / "ci" / "preview-on-pull-request.yml").read_text()
    for sub in set(re.findall(r"pulumi-webhooks ([a-z-]+)", workflow)):
        with pytest.raises(SystemExit) as exited:
            main([sub, "--help"])
        assert exited.value.code == 0, sub


PROGRAMS = [ROOT / "__main__.py", *sorted((ROOT / "examples").glob("*/__main__.py"))]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.parent.name)
def test_programs_require_their_secrets_and_say_how_to_set_them(program: Path) -> None:
    code = program.read_text()
    # `get_secret(...) or "literal"` would put a well-known secret on a real provider.
    assert "get_secret(" not in code, f"{program}: use config.require_secret"
    setup = (ROOT / "scripts" / "demo") if program.parent == ROOT else program.parent / "README.md"
    for key in re.findall(r"require_secret\(\"(\w+)\"\)", code):
        assert re.search(rf"config set --secret (\"\$key\"|{key}) ", setup.read_text()) or (
            program.parent == ROOT and key in setup.read_text()
        ), f"{setup} does not set {key}"


def test_the_guide_to_a_new_provider_names_what_the_core_has() -> None:
    guide = (ROOT / "docs" / "adding-a-provider.md").read_text()
    rows = re.findall(r"^\| (.+?) \| `(_\w+)\.py` \|", guide, re.M)
    assert len(rows) >= 8
    for names, module in rows:
        core = importlib.import_module(f"pulumi_webhooks.{module}")
        for name in re.findall(r"`(\w+)(?:\(|`)", names):
            assert hasattr(core, name), f"docs/adding-a-provider.md: {module}.{name} does not exist"
