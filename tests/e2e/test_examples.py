"""Every example previews against the sandbox through the Python language host, as its README says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
    mark = stack.last_seq()
    preview = stack.preview()
    assert changes(preview) == {"create": EXPECTED[example] + 1}  # + the stack itself
    assert stack.journal(mark) == [], "preview called a provider"
