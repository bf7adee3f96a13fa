"""SIGKILL of the CLI and every process it started, at a random moment of `pulumi up`; then a
plain `pulumi up` leaves exactly the declared webhooks: none twice, none missing, no drift."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from pulumi.automation.errors import CommandError, ConcurrentUpdateError

from .conftest import StackFactory
from .harness import EngineStack, changes, project_on_disk, pulumi_dir

TRIALS = int(os.environ.get("PULUMI_WEBHOOKS_CRASH_TRIALS", "10"))
RECEIVER = "https://hooks.example.com"

#: 20 webhooks over four providers, two of them declared identically (a case the journal must
#: tell apart by resource, not by what they declare).
PROGRAM = '''
from pulumi_webhooks import phonepe, safepay, spritz, velafi

for i in range(5):
    velafi.Webhook(f"velafi-{i}", event_type="ORDER_WEBHOOK", url=f"{RECEIVER}/velafi/{i}")
    safepay.RaastWebhook(f"safepay-{i}", url=f"{RECEIVER}/safepay/{i}", event_types=["payment.completed"])
    phonepe.Webhook(f"phonepe-{i}", url=f"{RECEIVER}/phonepe/{i}", events=["pg.order.completed"],
                    username="merchant01", password="Passw0rd2024")
for i in range(4):
    spritz.IntegratorWebhook(f"spritz-{i}", url=f"{RECEIVER}/spritz/{i}", events=["payment.completed"])
spritz.IntegratorWebhook("spritz-twin", url=f"{RECEIVER}/spritz/0", events=["payment.completed"])
'''.replace("{RECEIVER}", RECEIVER)

DECLARED = Counter(
    [f"{RECEIVER}/{p}/{i}" for p in ("velafi", "safepay", "phonepe") for i in range(5)]
    + [f"{RECEIVER}/spritz/{i}" for i in range(4)] + [f"{RECEIVER}/spritz/0"]
)
PROVIDERS = ("velafi", "safepay", "phonepe", "spritz")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the CLI, its language host, the program and the provider host, all at once."""
    for _ in range(3):  # a process started while the tree was listed is caught the next time
        for pid in descendants(process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while len(descendants(process.pid)) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)


def cli_up(stack: EngineStack, project: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **stack.stack.workspace.env_vars, "PULUMI_HOME": str(stack.stack.workspace.pulumi_home)}
    pulumi = os.path.join(pulumi_dir(), "pulumi")
    return subprocess.Popen(
        [pulumi, "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.stack.name],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def repair_checkpoint(stack: EngineStack) -> None:
    """What the file backend leaves when the kill cut its write short, put right: it writes a
    checkpoint by renaming a whole new file over the old one, but its metadata sidecar
    (``<stack>.json.attrs``, optional) in place, so either can be found empty."""
    [current] = (stack.backend_dir / ".pulumi" / "stacks").rglob(f"{stack.stack.name}.json")
    attrs = current.with_name(f"{current.name}.attrs")
    if attrs.exists() and not attrs.stat().st_size:
        attrs.unlink()
    if not current.stat().st_size:
        backup = current.with_name(f"{current.name}.bak")
        assert backup.exists() and backup.stat().st_size, "no checkpoint backup to go back to"
        shutil.copyfile(backup, current)


def up_after_a_kill(stack: EngineStack) -> None:
    """The documented next step: `pulumi up`; first `pulumi cancel` when the engine says the killed
    update still holds the stack's lock, and the backend's files put right when the kill cut a
    write short ("failed to load checkpoint"). The journal finishes whatever the state lacks."""
    for _ in range(3):
        try:
            stack.up()
            return
        except ConcurrentUpdateError:
            stack.stack.cancel()
        except CommandError as failed:
            if "failed to load checkpoint" not in str(failed):
                raise
            repair_checkpoint(stack)
    stack.up()


def live_urls(stack: EngineStack) -> Counter[str]:
    return Counter(w["url"] for p in PROVIDERS for w in stack.webhooks(p) if w["url"].startswith(RECEIVER))


def test_sigkill_at_random_moments_of_up_then_up_leaves_exactly_what_is_declared(
    tmp_path: Path, engine_stack: StackFactory
) -> None:
    project = project_on_disk(tmp_path / "crash", PROGRAM)
    rng = random.Random(int(os.environ.get("PULUMI_WEBHOOKS_CRASH_SEED", "13")))

    # Every create a little slow, as real APIs are, so that kills land while requests are in flight.
    first = engine_stack(project, name="trial0")
    first.add_fault(method="POST", latency=0.3)

    report = []
    for trial in range(TRIALS):
        stack = first if trial == 0 else engine_stack(project, name=f"trial{trial}")
        # A random moment: once a random number of webhooks exist, plus a random part of a request.
        target, jitter = rng.randint(0, 19), rng.uniform(0.0, 0.4)
        process = cli_up(stack, project)
        deadline = time.monotonic() + 60
        while sum(live_urls(stack).values()) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(jitter)
        kill_tree(process)
        made_before_kill = sum(live_urls(stack).values())

        up_after_a_kill(stack)
        live = live_urls(stack)
        assert live == DECLARED, (
            f"trial {trial} (killed {jitter:.2f}s after {target} were made, {made_before_kill} by then): "
            f"duplicates {dict(live - DECLARED)}, missing {dict(DECLARED - live)}"
        )
        assert changes(stack.preview()) == {}, f"trial {trial}: drift after the recovering up"
        assert len(stack.resources("Webhook")) == 20
        stack.destroy()
        assert live_urls(stack) == Counter(), f"trial {trial}: destroy left webhooks behind"
        report.append(f"trial {trial}: killed {jitter:.2f}s after {target} were made: {made_before_kill}/20 made")
    print("\n".join(report))
    assert any(0 < int(line.rsplit(": ", 1)[1].split("/")[0]) < 20 for line in report), (
        "no kill landed in the middle of the creates:\n" + "\n".join(report)
    )


@pytest.mark.parametrize("cut_short", ["json.attrs", "json"])
def test_a_checkpoint_write_cut_short_is_put_right_and_up_finishes(
    tmp_path: Path, engine_stack: StackFactory, cut_short: str
) -> None:
    """The kill that lands in the backend's own write, made certain: the documented repair, then
    `up`, and the state holds every webhook once (what the older checkpoint lacks, from the
    journal)."""
    project = project_on_disk(tmp_path / "crash", PROGRAM)
    stack = engine_stack(project)
    stack.up()
    [broken] = (stack.backend_dir / ".pulumi" / "stacks").rglob(f"{stack.stack.name}.{cut_short}")
    broken.write_bytes(b"")
    with pytest.raises(CommandError, match="failed to load checkpoint"):
        stack.preview()
    up_after_a_kill(stack)
    assert live_urls(stack) == DECLARED
    assert changes(stack.preview()) == {}
    assert len(stack.resources("Webhook")) == 20
