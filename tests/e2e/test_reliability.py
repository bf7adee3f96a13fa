"""Faults, interruptions and secrets, with the real engine against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi
from pulumi_webhooks.sandbox import SandboxServer

from .conftest import StackFactory
from .harness import PASSPHRASE, SECRET_SIG, EngineStack, assert_no_plaintext, changes, pulumi_dir

PER_PROVIDER = 6  # x4 providers + the Kotani Pay setting = 25 webhooks


def fleet(receiver: str = "https://hooks.example.com") -> None:
    """25 webhooks over the five providers, plus Spritz's signing secret."""
    kotanipay.IntegratorWebhook("kotani", url=f"{receiver}/kotani", events=["payment.confirmed"],
                                secret="whsec_kotani_fleet_01")
    secret = spritz.WebhookSecret("spritz-secret", secret="spritz-fleet-signing-01")
    for i in range(PER_PROVIDER):
        velafi.Webhook(f"velafi-{i}", event_type="ORDER_WEBHOOK", url=f"{receiver}/velafi/{i}")
        safepay.RaastWebhook(f"safepay-{i}", url=f"{receiver}/safepay/{i}", event_types=["payment.completed"],
                             description=f"fleet {i}")
        spritz.IntegratorWebhook(f"spritz-{i}", url=f"{receiver}/spritz/{i}", events=["payment.completed"],
                                 opts=pulumi.ResourceOptions(depends_on=[secret]))
        phonepe.Webhook(f"phonepe-{i}", url=f"{receiver}/phonepe/{i}", events=["pg.order.completed"],
                        username=f"fleet{i:02d}user", password=f"Fleet{i:02d}pass99", description=f"fleet {i}")


def remote_urls(stack: EngineStack) -> dict[str, Counter[str]]:
    """Webhook URLs held by each provider in the sandbox, counted (duplicates show as 2)."""
    keys = {"velafi": "url", "safepay": "url", "spritz": "url", "phonepe": "url"}
    return {p: Counter(str(w[k]) for w in stack.webhooks(p)) for p, k in keys.items()}


def assert_exactly_the_fleet(stack: EngineStack) -> None:
    urls = remote_urls(stack)
    for provider in ("velafi", "safepay", "spritz", "phonepe"):
        expected = Counter(f"https://hooks.example.com/{provider}/{i}" for i in range(PER_PROVIDER))
        assert urls[provider] == expected, (provider, urls[provider])


def test_up_converges_under_injected_faults_without_duplicates(engine_stack: StackFactory) -> None:
    stack = engine_stack(fleet, env={"PULUMI_WEBHOOKS_RETRY_DEADLINE": "90"})
    # Writes: 30% answered 5xx or dropped after they were committed, 15% rate-limited
    # before processing; reads: 15% 502; every request: 10% 429 with Retry-After.
    stack.add_fault(method="POST", path="^/(velafi|safepay|spritz|phonepe)/", rate=0.2, status=503,
                    after_commit=True)
    stack.add_fault(method="POST", path="^/(velafi|safepay|spritz|phonepe)/", rate=0.125, drop=True,
                    after_commit=True)
    stack.add_fault(method="POST", rate=0.15, status=429, retry_after=0.1)
    stack.add_fault(method="GET", rate=0.15, status=502)
    stack.add_fault(rate=0.1, status=429, retry_after=0.1)
    stack.add_fault(method="PUT", rate=0.1, status=504, after_commit=True)
    stack.add_fault(method="PATCH", rate=0.1, drop=True)
    mark = stack.last_seq()

    result = stack.up()
    assert changes(result) == {"create": 2 + 1 + 4 * PER_PROVIDER}
    journal = stack.journal(mark)
    injected = [r for r in journal if r["dropped"] or r["status"] in (429, 502, 503, 504)]
    assert len(injected) >= 10, "the faults were not exercised"
    print(f"faults injected: {len(injected)} of {len(journal)} requests")
    assert_exactly_the_fleet(stack)

    stack.clear_faults()
    assert changes(stack.refresh()) == {}
    assert changes(stack.preview()) == {}
    stack.destroy()
    assert all(not c for c in remote_urls(stack).values())


SECRET_VALUES = ["whsec_kotani_fleet_01", "spritz-fleet-signing-01"] + [
    f"Fleet{i:02d}pass99" for i in range(PER_PROVIDER)
]


def test_no_secret_in_state_output_or_errors(engine_stack: StackFactory) -> None:
    stack = engine_stack(fleet)
    credentials = stack.credentials()
    assert credentials, "the sandbox config has credentials"
    stack.up(debug=True)
    made = [w["secret"] for w in stack.webhooks("safepay") if w.get("secret")]
    assert made, "Safepay returned signing secrets"
    stack.refresh(debug=True)
    assert_no_plaintext(stack, [*SECRET_VALUES, *credentials, *made])
    assert stack.state_text().count(SECRET_SIG) >= len(SECRET_VALUES)

    # A failure whose message comes from the provider: wrong credentials everywhere.
    config = stack.sandbox_config
    wrong = {k: (f"{v}-revoked" if k in stack.secret_keys else v) for k, v in config.items()}
    stack.set_config(wrong)
    stack.set_program(lambda: fleet("https://changed.example.com"))
    with pytest.raises(Exception) as failed:
        stack.up(debug=True)
    text = "\n".join(stack.output) + str(failed.value)
    assert "credentials" in text.lower() or "401" in text
    leaked = [k for k, v in wrong.items() if k in stack.secret_keys and v in text]
    assert leaked == [], f"credentials of {leaked} appear in the engine's output"
    for value in [*SECRET_VALUES, *credentials, *made]:
        assert value not in text, f"{value[:4]}… appears in the engine's output"
    journal = json.dumps(stack.journal())
    for value in [*credentials, *SECRET_VALUES]:
        assert value not in journal

    # The failed up recorded the revoked credentials for the providers, and destroy does not run
    # the program: an up with the good ones first, as a user would after fixing their config.
    stack.set_config(config)
    stack.set_program(fleet)
    assert changes(stack.up(debug=True)) == {}
    stack.destroy(debug=True)
    assert_no_plaintext(stack, [*SECRET_VALUES, *credentials, *made])
    assert "\n".join(stack.output).count("Fleet00pass99") == 0


PROGRAM = """
import pulumi
from pulumi_webhooks import phonepe, safepay, velafi

for i in range({n}):
    safepay.RaastWebhook(f"safepay-{{i}}", url=f"https://hooks.example.com/safepay/{{i}}",
                         event_types=["payment.completed"])
    phonepe.Webhook(f"phonepe-{{i}}", url=f"https://hooks.example.com/phonepe/{{i}}",
                    events=["pg.order.completed"], username=f"kill{{i:02d}}user", password="Killed2024x")
    velafi.Webhook(f"velafi-{{i}}", event_type="FUNDING_WEBHOOK", url=f"https://hooks.example.com/velafi/{{i}}")
"""


def _cli_project(tmp_path: Path, server: SandboxServer, n: int) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: kill-test\nruntime: python\n")
    (project / "__main__.py").write_text(textwrap.dedent(PROGRAM.format(n=n)))
    (tmp_path / "state").mkdir()
    env = {
        **os.environ,
        "PATH": f"{pulumi_dir()}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_BACKEND_URL": (tmp_path / "state").as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_PYTHON_CMD": sys.executable,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_HOME": str(tmp_path / "home"),
    }
    run = lambda *a: subprocess.run(["pulumi", *a, "--non-interactive"], cwd=project, env=env,  # noqa: E731
                                    check=True, capture_output=True, text=True)
    run("stack", "init", "kill")
    settings = server.sandbox.connection_settings()
    for key, value in settings["config"].items():
        run("config", "set", *(["--secret"] if key in settings["secrets"] else []), key, value)
    return project, env


def _count_writes(server: SandboxServer) -> int:
    return sum(1 for e in server.sandbox.journal if e["method"] == "POST" and "token" not in e["path"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_up_then_up_again_ends_correct_without_duplicates(
    tmp_path: Path, sandbox_server: SandboxServer, sig: signal.Signals
) -> None:
    n = 4
    project, env = _cli_project(tmp_path, sandbox_server, n)
    sandbox = sandbox_server.sandbox
    from pulumi_webhooks.sandbox import Fault

    sandbox.faults.append(Fault(latency=0.4))  # slow enough to interrupt half way
    # Two operations at a time, so an interrupt always finds work not yet started.
    up = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--parallel", "2"],
                          cwd=project, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while _count_writes(sandbox_server) < 3 and time.time() < deadline and up.poll() is None:
        time.sleep(0.05)
    up.send_signal(sig)
    out, _ = up.communicate(timeout=120)
    made_before = _count_writes(sandbox_server)
    assert 0 < made_before < 3 * n, out

    sandbox.faults.clear()
    again = subprocess.run(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive"], cwd=project, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    held: dict[str, Any] = {p: sorted(w["url"] for w in sandbox.apps[p].webhooks()) for p in
                            ("safepay", "phonepe", "velafi")}
    for provider, urls in held.items():
        assert urls == sorted(f"https://hooks.example.com/{provider}/{i}" for i in range(n)), provider
    preview = subprocess.run(["pulumi", "preview", "--expect-no-changes", "--non-interactive"], cwd=project,
                             env=env, capture_output=True, text=True)
    assert preview.returncode == 0, preview.stdout


def _phonepe_password_of_letters() -> None:
    phonepe.Webhook("p", url="https://hooks.example.com/p", events=["pg.order.completed"],
                    username="valid01", password="onlyletters")


def _spritz_secret_with_padding() -> None:
    spritz.WebhookSecret("s", secret="  short-lived-secret  ")


@pytest.mark.parametrize(("program", "rule", "value"), [
    (_phonepe_password_of_letters, "password: must contain both letters and digits", "onlyletters"),
    (_spritz_secret_with_padding, "secret: must not start or end with white space", "short-lived-secret"),
])
def test_invalid_secrets_fail_preview_without_being_shown(
    engine_stack: StackFactory, program: Callable[[], None], rule: str, value: str
) -> None:
    # One resource a preview: the engine stops at the first declaration that fails its check.
    stack = engine_stack(program)
    with pytest.raises(Exception) as failed:
        stack.preview()
    text = "\n".join(stack.output) + str(failed.value)
    assert rule in text
    assert value not in text
