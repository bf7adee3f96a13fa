"""Benchmark: our resources against the engine's own floor (no-op dynamic resources).

For each N, runs preview, up (create), a no-change up, an update, refresh and
destroy of N webhooks spread over the five providers, and the same of N no-op
dynamic resources, against a sandbox (in its own process, answering at once)
with a local backend. Prints wall times and their ratio to the floor, HTTP
requests per resource per operation and token requests (from the sandbox
journal), the provider host's peak memory, and the import cost of the package.

    scripts/bench [--sizes 10,50,100] [--repeat 1]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = Path(__file__).resolve().parent / "program"
OPERATIONS = ("preview", "up", "up-nochange", "update", "refresh", "destroy")


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


class HostMemory:
    """Samples the peak RSS (VmHWM) of every dynamic provider host while it runs."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HostMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"pulumi.dynamic" not in cmdline:
                        continue
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    continue
            self._stop.wait(0.02)


class Bench:
    def __init__(self, workdir: Path, pulumi_dir: str) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "PATH": f"{pulumi_dir}{os.pathsep}{os.environ['PATH']}",
            "PULUMI_CONFIG_PASSPHRASE": "benchmark",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_PYTHON_CMD": sys.executable,
            # The no-op floor resource lives in tests/, outside the package: the program and the
            # engine's provider process import it from this checkout.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.sandbox_proc: subprocess.Popen[bytes] | None = None
        self.settings: dict[str, Any] = {}
        self.projects = 0

    def start_sandbox(self) -> None:
        config_out = self.workdir / "sandbox.json"
        self.sandbox_proc = subprocess.Popen(
            [sys.executable, "-m", "pulumi_webhooks.cli", "sandbox", "--port", "0", "--config-out", str(config_out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while not config_out.exists() or not config_out.stat().st_size:
            if time.time() > deadline:
                raise RuntimeError("sandbox did not start")
            time.sleep(0.05)
        self.settings = json.loads(config_out.read_text())
        self.admin = httpx.Client(base_url=f"{self.settings['url']}/_sandbox")

    def stop_sandbox(self) -> None:
        if self.sandbox_proc:
            self.sandbox_proc.terminate()
            self.sandbox_proc.wait(timeout=10)

    def pulumi(self, cwd: Path, *args: str) -> float:
        started = time.perf_counter()
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=cwd, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return elapsed

    def project(self, kind: str, n: int) -> Path:
        self.projects += 1
        project = self.workdir / f"{kind}-{n}-{self.projects}"
        shutil.copytree(PROGRAM, project)
        (project / "state").mkdir()
        run = lambda *a: subprocess.run(  # noqa: E731
            ["pulumi", *a, "--non-interactive"], cwd=project,
            env={**self.env, "PULUMI_BACKEND_URL": (project / "state").as_uri()},
            check=True, stdout=subprocess.DEVNULL,
        )
        run("stack", "init", "bench")
        run("config", "set", "bench:kind", kind)
        run("config", "set", "bench:count", str(n))
        for key, value in self.settings["config"].items():
            flag = ["--secret"] if key in self.settings["secrets"] else []
            run("config", "set", *flag, key, value)
        return project

    def journal_mark(self) -> int:
        rows = self.admin.get("/journal").json()
        return rows[-1]["seq"] if rows else 0

    def requests_since(self, mark: int) -> tuple[int, int, float]:
        """Calls (without token requests), token requests, and seconds the sandbox spent on them."""
        rows = self.admin.get("/journal", params={"since": mark}).json()
        tokens = sum(1 for r in rows if "token" in r["path"])
        return len(rows) - tokens, tokens, sum(r["ms"] for r in rows) / 1000

    def run(self, kind: str, n: int) -> dict[str, dict[str, float]]:
        project = self.project(kind, n)
        self.env["PULUMI_BACKEND_URL"] = (project / "state").as_uri()
        results: dict[str, dict[str, float]] = {}
        for op in OPERATIONS:
            if op == "update":
                subprocess.run(["pulumi", "config", "set", "bench:generation", "2", "--non-interactive"],
                               cwd=project, env=self.env, check=True, stdout=subprocess.DEVNULL)
            args = {
                "preview": ("preview",),
                "up": ("up", "--yes", "--skip-preview"),
                "up-nochange": ("up", "--yes", "--skip-preview"),
                "update": ("up", "--yes", "--skip-preview"),
                "refresh": ("refresh", "--yes", "--skip-preview"),
                "destroy": ("destroy", "--yes", "--skip-preview"),
            }[op]
            mark = self.journal_mark()
            with HostMemory() as memory:
                seconds = self.pulumi(project, *args)
            calls, tokens, in_sandbox = self.requests_since(mark)
            results[op] = {"seconds": seconds, "calls": calls, "tokens": tokens, "peak_kib": memory.peak_kib,
                           "sandbox": in_sandbox}
            progress(f"{kind:8} N={n:<4} {op:12} {seconds:6.2f}s  {calls} calls, {tokens} token requests")
        return results


def import_cost(samples: int = 7) -> tuple[float, float]:
    """Median ms to import pulumi.dynamic, and the extra ms for pulumi_webhooks.phonepe on top."""
    def timed(stmt: str) -> float:
        code = f"import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return float(out.stdout) * 1000

    base = [timed("import pulumi.dynamic") for _ in range(samples)]
    ours = [timed("import pulumi.dynamic; import pulumi_webhooks.phonepe") for _ in range(samples)]
    return statistics.median(base), statistics.median(ours) - statistics.median(base)


def check_diff_cost(calls: int = 500, samples: int = 7) -> list[tuple[str, float, float]]:
    """Per resource kind: median ms of our Check and of our Diff (a no-change diff), in-process,
    without the engine's gRPC and serialisation around them."""
    from pulumi_webhooks import _config, kotanipay, phonepe, safepay, spritz, velafi

    # Settings that pass Check (which only looks at them); nothing is called.
    _config.set_stack_config({
        "kotanipay:apiKey": "k", "kotanipay:baseUrl": "http://127.0.0.1:9/kotanipay",
        "velafi:apiKey": "k", "velafi:apiSecret": "s", "velafi:baseUrl": "http://127.0.0.1:9/velafi",
        "safepay:secretKey": "k", "safepay:aggregatorId": "agg_1", "safepay:baseUrl": "http://127.0.0.1:9/safepay",
        "spritz:apiKey": "k", "spritz:integratorKey": "int_1", "spritz:baseUrl": "http://127.0.0.1:9/spritz",
        "phonepe:clientId": "c", "phonepe:clientSecret": "s", "phonepe:baseUrl": "http://127.0.0.1:9/phonepe",
    })
    url = "https://hooks.example.com/bench"
    cases: list[tuple[str, Any, dict[str, Any]]] = [
        ("kotanipay", kotanipay.IntegratorWebhook._provider_class(), {"url": url, "secret": "s3cret-value"}),
        ("velafi", velafi.Webhook._provider_class(), {"event_type": "ORDER_WEBHOOK", "url": url}),
        ("safepay", safepay.RaastWebhook._provider_class(), {"url": url, "event_types": ["payment.completed"]}),
        ("spritz", spritz.IntegratorWebhook._provider_class(), {"url": url, "events": ["payment.completed"]}),
        ("phonepe", phonepe.Webhook._provider_class(), {"url": url, "events": ["pg.order.completed"],
                                                        "username": "merchant01", "password": "Passw0rd2024"}),
    ]

    def per_call(fn: Any) -> float:
        for _ in range(calls // 5):
            fn()
        runs = []
        for _ in range(samples):
            started = time.perf_counter()
            for _ in range(calls):
                fn()
            runs.append((time.perf_counter() - started) / calls * 1000)
        return statistics.median(runs)

    found = []
    for name, provider, news in cases:
        news = {**news, "declared_urn": f"urn:pulumi:bench::bench::pulumi-webhooks:{name}::hook"}
        inputs = provider.check({}, news).inputs
        olds = {**inputs, "webhook_id": "wh_1", "base_url": f"http://127.0.0.1:9/{name}"}
        check = functools.partial(provider.check, {}, news)
        diff = functools.partial(provider.diff, "wh_1", olds, inputs)
        found.append((name, per_call(check), per_call(diff)))
    _config.set_stack_config({})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the median is reported")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the sandbox waits before answering each provider call (a real API's round trip)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    pulumi_dir = os.environ.get("PULUMI_WEBHOOKS_PULUMI_DIR") or str(Path(shutil.which("pulumi") or "").parent)

    table: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="webhooks-bench-") as tmp:
        bench = Bench(Path(tmp), pulumi_dir)
        bench.start_sandbox()
        if args.latency:
            bench.admin.post("/faults", json={"latency": args.latency}).raise_for_status()
        try:
            for n in sizes:
                for kind in ("noop", "webhooks"):
                    runs = [bench.run(kind, n) for _ in range(args.repeat)]
                    table[(kind, n)] = {
                        op: {k: statistics.median(r[op][k] for r in runs) for k in runs[0][op]}
                        for op in OPERATIONS
                    }
        finally:
            bench.stop_sandbox()

    base_ms, extra_ms = import_cost()
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    if args.latency:
        parallel = int(os.environ.get("PULUMI_PARALLEL") or 4 * (os.cpu_count() or 1))
        print(f"\nEvery provider call waits {args.latency:.3f}s in the sandbox; the engine runs {parallel} "
              f"operations at once, so the ideal is the floor plus ceil(N/{parallel}) x {args.latency:.3f}s "
              f"(+ one list per provider for up's lost-create check)")
        for n in sizes:
            print(f"  N={n}: ideal extra {math.ceil(n / parallel) * args.latency:.2f}s over the floor")
    print("\nWall time (s) and ratio to the no-op floor")
    print(f"| {'N':>4} | {'operation':12} | {'floor s':>8} | {'webhooks s':>10} | {'ratio':>6} |")
    print(f"|{'-' * 6}|{'-' * 14}|{'-' * 10}|{'-' * 12}|{'-' * 8}|")
    for n in sizes:
        for op in OPERATIONS:
            floor = table[("noop", n)][op]["seconds"]
            ours = table[("webhooks", n)][op]["seconds"]
            print(f"| {n:>4} | {op:12} | {floor:8.2f} | {ours:10.2f} | {ours / floor:6.2f} |")
    print("\nHTTP requests per resource (token requests excluded) and token requests per operation")
    print(f"| {'N':>4} | {'operation':12} | {'calls/resource':>14} | {'token requests':>14} | {'host peak MiB':>13} "
          f"| {'sandbox s':>9} |")
    print(f"|{'-' * 6}|{'-' * 14}|{'-' * 16}|{'-' * 16}|{'-' * 15}|{'-' * 11}|")
    for n in sizes:
        for op in OPERATIONS:
            row = table[("webhooks", n)][op]
            print(f"| {n:>4} | {op:12} | {row['calls'] / n:14.2f} | {int(row['tokens']):>14} | "
                  f"{row['peak_kib'] / 1024:13.1f} | {row['sandbox']:9.2f} |")
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(f"\nGrowth {lo} -> {hi} (x{hi / lo:g} resources): time ratio per operation")
        for op in OPERATIONS:
            floor = table[("noop", hi)][op]["seconds"] / table[("noop", lo)][op]["seconds"]
            ours = table[("webhooks", hi)][op]["seconds"] / table[("webhooks", lo)][op]["seconds"]
            print(f"  {op:12} floor x{floor:5.2f}   webhooks x{ours:5.2f}")
    print(f"\nImport: pulumi.dynamic {base_ms:.0f} ms; pulumi_webhooks.phonepe adds {extra_ms:.0f} ms (median of 7)")
    print("\nCheck and Diff per resource, in-process (ms, median of 7 x 500 calls; the engine's gRPC not included)")
    print(f"| {'provider':10} | {'check ms':>8} | {'diff ms':>8} |")
    print(f"|{'-' * 12}|{'-' * 10}|{'-' * 10}|")
    for name, check_ms, diff_ms in check_diff_cost():
        print(f"| {name:10} | {check_ms:8.3f} | {diff_ms:8.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
