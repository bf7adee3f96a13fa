"""Every example previews against the sandbox through the Python language host, as its README says."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

import pytest
from pulumi import automation as auto

from .conftest import StackFactory
from .harness import changes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {
    "kotanipay": 1, "velafi": 2, "safepay": 1, "spritz": 2, "phonepe": 1, "multi-provider": 6,
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir() if (p / "Pulumi.yaml").exists()) == sorted(EXPECTED)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_previews(example: str, tmp_path: Path, engine_stack: StackFactory) -> None:
    project = tmp_path / example
    shutil.copytree(EXAMPLES / example, project, ignore=shutil.ignore_patterns(".state", "Pulumi.*.yaml"))
    stack = engine_stack(project)
    # The program requires these secrets: set them as the example's README says.
    readme = (EXAMPLES / example / "README.md").read_text()
    name = re.search(r"^name: (\S+)", (project / "Pulumi.yaml").read_text(), re.M)
    assert name is not None
    for key, value in re.findall(r"^pulumi config set --secret (\w+) (.+)$", readme, re.M):
        value = secrets.token_hex(24) if value.startswith('"$(') else value
        stack.stack.set_config(f"{name[1]}:{key}", auto.ConfigValue(value=value, secret=True))
    mark = stack.last_seq()
    preview = stack.preview()
    assert changes(preview) == {"create": EXPECTED[example] + 1}  # + the stack itself
    assert stack.journal(mark) == [], "preview called a provider"
