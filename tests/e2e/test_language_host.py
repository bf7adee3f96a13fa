"""The Python language host scripts/setup provides: `pulumi about`, `pulumi install`, and a failed
update that ends as soon as the engine is done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .harness import pulumi_dir

pytestmark = pytest.mark.e2e

FAILING = """
    from pulumi.dynamic import Resource, ResourceProvider


    class Refuses(ResourceProvider):
        def create(self, props):
            raise Exception("create refused")


    class Thing(Resource):
        def __init__(self, name):
            super().__init__(Refuses(), name, {})


    Thing("thing")
"""


def _project(path: Path, program: str, runtime: str = "python") -> dict[str, str]:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Pulumi.yaml").write_text(f"name: host-test\nruntime: {runtime}\n")
    (path / "__main__.py").write_text(textwrap.dedent(program))
    (path / ".state").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{pulumi_dir()}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_BACKEND_URL": (path / ".state").as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": "host-test",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_PYTHON_CMD": sys.executable,
        "PULUMI_HOME": str(path / ".home"),
    }
    subprocess.run(["pulumi", "stack", "init", "dev", "--non-interactive"], cwd=path, env=env, check=True,
                   capture_output=True)
    return env


def _pulumi(path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # Output captured and no terminal on stdin, as in a pipeline or the Automation API.
    return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=path, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_about_names_the_interpreter_and_the_program_dependencies(tmp_path: Path) -> None:
    env = _project(tmp_path, "")
    done = _pulumi(tmp_path, env, "about", "--json")
    assert done.returncode == 0, done.stderr
    about = json.loads(done.stdout)
    assert "not implemented" not in done.stderr
    assert about["runtime"] == {"language": "python", "executable": sys.executable,
                                "version": ".".join(map(str, sys.version_info[:3]))}
    assert not about.get("errors")
    assert {"pulumi", "pulumi-webhooks"} <= {d["name"] for d in about["dependencies"]}


def test_install_fills_the_projects_virtualenv(tmp_path: Path) -> None:
    env = _project(tmp_path, "", runtime="\n  name: python\n  options:\n    virtualenv: venv")
    (tmp_path / "requirements.txt").write_text("# nothing to fetch: the venv itself is what is made\n")
    done = _pulumi(tmp_path, env, "install")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "venv" / "bin" / "python").exists()


def test_install_without_a_virtualenv_changes_no_interpreter(tmp_path: Path) -> None:
    env = _project(tmp_path, "")
    (tmp_path / "requirements.txt").write_text("pulumi-webhooks\n")
    done = _pulumi(tmp_path, env, "install")
    assert done.returncode == 0, done.stderr
    assert "virtualenv" in done.stdout + done.stderr


def test_a_failed_update_ends_without_waiting(tmp_path: Path) -> None:
    env = _project(tmp_path, FAILING)
    started = time.monotonic()
    done = _pulumi(tmp_path, env, "up", "--yes")
    elapsed = time.monotonic() - started
    assert done.returncode != 0 and "create refused" in done.stdout + done.stderr
    # It used to take the engine's time plus ~5 s: the program, left waiting, held the CLI's pipes.
    assert elapsed < 4.5, f"a failed up took {elapsed:.1f}s"
