"""The command line: plain help, --version, errors on stderr, use-sandbox in one config call."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import pulumi_webhooks
from pulumi_webhooks.cli import main
from pulumi_webhooks.sandbox import SandboxServer

COMMANDS = ["sandbox", "use-sandbox", "trigger", "listen", "discover", "host-script"]


@pytest.mark.parametrize("argv", [[], *([c] for c in COMMANDS)])
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: pulumi-webhooks")
    for markup in ("``", ":class:", ":func:", ":param", ".. "):
        assert markup not in text


def test_top_level_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert all(command in text for command in COMMANDS)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"pulumi-webhooks {pulumi_webhooks.__version__}"


def test_usage_errors_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["trigger", "stripe", "x"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "invalid choice: 'stripe'" in captured.err


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `pulumi` on PATH that records each call's arguments (one JSON array per line)."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "bin" / "pulumi"
    script.parent.mkdir()
    script.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    yield log




def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_use_sandbox_sets_only_the_providers_asked_in_one_call(
    fake_pulumi: Path, sandbox_server: SandboxServer
) -> None:
    assert main(["use-sandbox", "--url", sandbox_server.url, "--stack", "dev", "phonepe", "safepay"]) == 0
    calls = _calls(fake_pulumi)
    assert len(calls) == 1
    call = calls[0]
    assert call[:2] == ["config", "set-all"] and call[call.index("--stack"):][:2] == ["--stack", "dev"]
    pairs = [(call[i], call[i + 1]) for i, a in enumerate(call) if a in ("--secret", "--plaintext")]
    settings = sandbox_server.sandbox.connection_settings()
    wanted = {k: v for k, v in settings["config"].items() if k.split(":")[0] in ("phonepe", "safepay")}
    assert dict(p[1].split("=", 1) for p in pairs) == wanted
    for flag, pair in pairs:
        key = pair.split("=", 1)[0]
        assert (flag == "--secret") is (key in settings["secrets"])
    assert {"phonepe:clientSecret", "safepay:secretKey"} <= {p[1].split("=", 1)[0] for p in pairs if p[0] == "--secret"}


def test_use_sandbox_without_providers_sets_all_five(fake_pulumi: Path, sandbox_server: SandboxServer) -> None:
    assert main(["use-sandbox", "--url", sandbox_server.url]) == 0
    (call,) = _calls(fake_pulumi)
    keys = {a.split("=", 1)[0] for a in call if "=" in a}
    assert keys == set(sandbox_server.sandbox.stack_config()) and "--stack" not in call


def test_use_sandbox_refuses_unknown_providers_and_missing_sandboxes(
    fake_pulumi: Path, sandbox_server: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["use-sandbox", "--url", sandbox_server.url, "stripe"]) == 1
    assert "unknown provider 'stripe'" in capsys.readouterr().err
    assert main(["use-sandbox", "--url", "http://127.0.0.1:9"]) == 1
    assert "no sandbox at" in capsys.readouterr().err
    assert not fake_pulumi.exists()



def test_host_script_writes_an_executable_host_for_the_engine(tmp_path: Path) -> None:
    assert main(["host-script", str(tmp_path / "bin")]) == 0
    script = tmp_path / "bin" / "pulumi-resource-pulumi-python"
    assert script.stat().st_mode & 0o111
    text = script.read_text()
    assert text.startswith("#!/bin/sh") and "pulumi_webhooks._host" in text and '"$@"' in text
