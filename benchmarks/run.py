"""Benchmark: our resources against two floors.

For each N, runs preview, up (create), a no-change up, an update, refresh and
destroy of N webhooks spread over the five providers (W), and the same of

- N no-op dynamic resources (F, the engine's own floor), and
- N "shaped" no-op resources (S, benchmarks/shaped.py): exactly the webhooks'
  properties, outputs and secrets, taken from W's own state, with no validation,
  no HTTP and no import beyond ``pulumi.dynamic``. W - S is what this package
  costs; S - F is what the engine charges for the resources' shape.

The three run interleaved (W, S, F, then again), against a sandbox in its own
process (answering at once, VelaFi's RSA keys made before the first run) with a
local backend. Prints medians of wall time and of CPU time (every process of the
operation: the CLI, the language host, the program and the provider host) with
their ratios, state bytes per resource, HTTP requests and bytes per resource,
token requests and list calls (from the sandbox journal), the provider host's
peak memory, the import cost of the package and the in-process cost of Check
and Diff.

    scripts/bench [--sizes 50,200] [--repeat 3] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import re
import resource
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
KINDS = ("webhooks", "shaped", "noop")  # run in this order: the shape comes from the webhooks' state
SECRET_SIG = "4dabf18193072939515e22adb298388d"


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
        self.latency = 0.0
        self.settings: dict[str, Any] = {}
        self.projects = 0

    def start_sandbox(self) -> None:
        config_out = self.workdir / "sandbox.json"
        self.sandbox_proc = subprocess.Popen(
            [sys.executable, "-m", "pulumi_webhooks.cli", "sandbox", "--port", "0", "--config-out", str(config_out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 300  # VelaFi's key pairs are made first
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

    def pulumi(self, cwd: Path, *args: str) -> tuple[float, float, str]:
        """Wall seconds, CPU seconds of the whole process tree (every process the CLI started
        and waited for: language host, program, provider hosts), and the output."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=cwd, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return elapsed, cpu, result.stdout

    def project(self, kind: str, n: int, shape: dict[str, Any] | None = None) -> Path:
        self.projects += 1
        project = self.workdir / f"{kind}-{n}-{self.projects}"
        shutil.copytree(PROGRAM, project)
        if shape is not None:
            (project / "shape.json").write_text(json.dumps(shape))
        (project / "state").mkdir()
        def run(*a: str) -> None:
            subprocess.run(
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

    def requests_since(self, mark: int) -> dict[str, float]:
        """Calls (without token requests), token requests, the most list calls of one provider
        (GETs of a collection or of the one setting), bytes answered, and seconds the sandbox spent."""
        rows = self.admin.get("/journal", params={"since": mark}).json()
        tokens = [r for r in rows if "token" in r["path"]]
        lists: dict[str, int] = {}
        for r in rows:
            route = r.get("route", "")
            if route.startswith("GET ") and "token" not in route and not route.endswith("}"):
                lists[r["provider"]] = lists.get(r["provider"], 0) + 1
        return {"calls": len(rows) - len(tokens), "tokens": len(tokens),
                "lists": max(lists.values(), default=0), "bytes": sum(r.get("bytes", 0) for r in rows),
                "sandbox": sum(r["ms"] for r in rows) / 1000}

    def shape_of(self, project: Path, generation: str) -> dict[str, dict[str, Any]]:
        """Per webhook resource: its recorded inputs and outputs, which are secrets, and the
        arguments that replace it (what benchmarks/shaped.py declares)."""
        from pulumi_webhooks._registry import BY_NAME

        out = subprocess.run(["pulumi", "stack", "export", "--show-secrets"], cwd=project, env=self.env,
                             check=True, capture_output=True, text=True).stdout
        shapes: dict[str, dict[str, Any]] = {}
        for res in json.loads(out)["deployment"]["resources"]:
            kind = res["type"].removeprefix("pulumi-python:dynamic/")  # e.g. "phonepe:Webhook"
            if kind == res["type"]:
                continue
            name = res["urn"].rsplit("::", 1)[1]
            module, cls = kind.split(":")
            provider = BY_NAME[module].resource_class(cls)._provider_class
            inputs, secret_inputs = _plain(res.get("inputs", {}))
            outputs, secret_outputs = _plain(res.get("outputs", {}))
            shapes[name] = {"generation": generation, "id": res["id"], "inputs": inputs,
                            "secret_inputs": secret_inputs, "outputs": outputs,
                            "secret_outputs": sorted(set(secret_outputs) | set(provider.secret_properties)),
                            "replace_on": sorted(provider.replace_on)}
        return shapes

    def state_bytes(self, project: Path) -> tuple[float, float]:
        """Mean bytes per resource in the checkpoint: the whole entry (with the engine's stack
        trace and source position), and its inputs and outputs."""
        checkpoint = next((project / "state" / ".pulumi" / "stacks").rglob("bench.json"))
        resources = [r for r in json.loads(checkpoint.read_text())["checkpoint"]["latest"]["resources"]
                     if r["type"].startswith("pulumi-python:dynamic")]
        whole = sum(len(json.dumps(r)) for r in resources)
        props = sum(len(json.dumps(r.get("inputs", {}))) + len(json.dumps(r.get("outputs", {}))) for r in resources)
        return whole / len(resources), props / len(resources)

    def fresh_sandbox(self) -> None:
        """Empty provider state: every run starts where the first did (Kotani Pay's one setting
        keeps the last URL set, which the next run's takeover would refuse)."""
        self.admin.post("/reset").raise_for_status()
        if self.latency:
            self.admin.post("/faults", json={"latency": self.latency}).raise_for_status()

    def run(self, kind: str, n: int, shape: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
        if kind == "webhooks":
            self.fresh_sandbox()
        project = self.project(kind, n, shape)
        self.env["PULUMI_BACKEND_URL"] = (project / "state").as_uri()
        results: dict[str, dict[str, float]] = {}
        self.shapes: dict[str, list[dict[str, Any]]] = {}
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
                seconds, cpu, output = self.pulumi(project, *args)
            if op in ("up-nochange", "refresh") and re.search(r"\b\d+ (created|updated|replaced|deleted)\b", output):
                raise RuntimeError(f"{kind} N={n}: {op} changed something:\n{output[-3000:]}")
            counts = self.requests_since(mark)
            row = {"seconds": seconds, "cpu": cpu, "peak_kib": memory.peak_kib, **counts}
            if op == "up":
                row["state_bytes"], row["property_bytes"] = self.state_bytes(project)
            results[op] = row
            if kind == "webhooks" and op in ("up", "update"):
                generation = "1" if op == "up" else "2"
                for name, entry in self.shape_of(project, generation).items():
                    self.shapes.setdefault(name, []).append(entry)
            progress(f"{kind:8} N={n:<4} {op:12} {seconds:6.2f}s {cpu:6.2f}s CPU  {counts['calls']} calls, "
                     f"{counts['tokens']} token requests")
        return results



def import_cost(samples: int = 21) -> dict[str, float]:
    """Median ms to import pulumi.dynamic; the extra ms for one provider module and for all
    five on top of it (what the program and the provider host each import); and, of the
    five, what pydantic's own modules take (self time, from ``-X importtime``)."""
    def timed(stmt: str) -> float:
        code = f"import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return float(out.stdout) * 1000

    def pydantic_self_ms() -> float:
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import pulumi.dynamic; {five}"],
                             capture_output=True, text=True, check=True).stderr.splitlines()
        start = max(i for i, line in enumerate(out) if line.endswith("| pulumi.dynamic"))
        total = 0
        for line in out[start + 1:]:
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip().split(".")[0] in ("pydantic", "pydantic_core", "annotated_types",
                                                                      "typing_inspection"):
                total += int(parts[0].split(":")[1])
        return total / 1000

    from pulumi_webhooks._registry import PROVIDERS

    five = "import " + ", ".join(provider.module_path for provider in PROVIDERS)
    statements = ("import pulumi.dynamic", "import pulumi.dynamic; import pulumi_webhooks.phonepe",
                  f"import pulumi.dynamic; {five}")
    times: list[list[float]] = [[], [], []]
    for _ in range(samples):  # interleaved, so that a slow moment weighs on all three alike
        for i, stmt in enumerate(statements):
            times[i].append(timed(stmt))
    base, one, every = (statistics.median(t) for t in times)
    return {"base": base, "one": one - base, "five": every - base,
            "pydantic": statistics.median(pydantic_self_ms() for _ in range(7))}


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


def _plain(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Exported properties without the pickled provider, secrets decrypted, and which were secret."""
    found, secret = {}, []
    for k, v in values.items():
        if k == "__provider":
            continue
        if isinstance(v, dict) and SECRET_SIG in v:
            secret.append(k)
            v = json.loads(v["plaintext"])
        found[k] = v
    return found, secret


def _median_rows(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {op: {k: statistics.median(r[op].get(k, 0) for r in runs) for k in runs[0][op]} for op in OPERATIONS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per size; medians are reported")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the sandbox waits before answering each provider call (a real API's round trip)")
    parser.add_argument("--imports-floor", action="store_true",
                        help="also run the shaped floor with the package imported (program and host): "
                             "how much of W - S the imports are")
    args = parser.parse_args()
    kinds = (*KINDS, "imports") if args.imports_floor else KINDS
    sizes = [int(s) for s in args.sizes.split(",")]
    pulumi_dir = os.environ.get("PULUMI_WEBHOOKS_PULUMI_DIR") or str(Path(shutil.which("pulumi") or "").parent)
    # Measured as installed from a wheel: bytecode compiled (PYTHONDONTWRITEBYTECODE would
    # otherwise make every process compile this checkout's sources again).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pulumi_webhooks"),
                    str(ROOT / "benchmarks"), str(ROOT / "tests" / "noop.py")], check=True, stdout=subprocess.DEVNULL)
    # VelaFi's key pairs, made before the first run: at most half the webhooks are VelaFi's.
    os.environ["PULUMI_WEBHOOKS_SANDBOX_VELAFI_KEYS"] = str(sum(args.repeat * -(-n // 2) for n in sizes) + 8)

    table: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="webhooks-bench-") as tmp:
        bench = Bench(Path(tmp), pulumi_dir)
        progress(f"starting the sandbox ({os.environ['PULUMI_WEBHOOKS_SANDBOX_VELAFI_KEYS']} VelaFi key pairs first)")
        bench.start_sandbox()
        bench.latency = args.latency
        try:
            for n in sizes:
                runs: dict[str, list[dict[str, dict[str, float]]]] = {kind: [] for kind in kinds}
                shape: dict[str, Any] | None = None
                for _ in range(args.repeat):
                    for kind in kinds:
                        runs[kind].append(bench.run(kind, n, shape if kind in ("shaped", "imports") else None))
                        if kind == "webhooks" and shape is None:
                            shape = {"resources": bench.shapes}
                for kind in kinds:
                    table[(kind, n)] = _median_rows(runs[kind])
        finally:
            bench.stop_sandbox()

    imports = import_cost()
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; medians of {args.repeat} interleaved runs")
    if args.latency:
        parallel = int(os.environ.get("PULUMI_PARALLEL") or 4 * (os.cpu_count() or 1))
        print(f"\nEvery provider call waits {args.latency:.3f}s in the sandbox; the engine runs {parallel} "
              f"operations at once, so the ideal is the shaped floor plus ceil(N/{parallel}) x {args.latency:.3f}s")
        print(f"| {'N':>4} | {'operation':12} | {'ideal s':>8} | {'webhooks s':>10} | {'ratio':>6} |")
        print(f"|{'-' * 6}|{'-' * 14}|{'-' * 10}|{'-' * 12}|{'-' * 8}|")
        for n in sizes:
            for op in ("up", "update", "refresh", "destroy"):
                ideal = table[("shaped", n)][op]["seconds"] + math.ceil(n / parallel) * args.latency
                ours = table[("webhooks", n)][op]["seconds"]
                print(f"| {n:>4} | {op:12} | {ideal:8.2f} | {ours:10.2f} | {ours / ideal:6.2f} |")
    for measure, unit in (("seconds", "Wall time"), ("cpu", "CPU time, every process of the operation,")):
        print(f"\n{unit} (s): no-op floor F, shaped floor S, webhooks W")
        print(f"| {'N':>4} | {'operation':12} | {'F':>6} | {'S':>6} | {'W':>6} | {'W/S':>5} | {'W/F':>5} "
              f"| {'S/F':>5} |")
        print(f"|{'-' * 6}|{'-' * 14}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 7}|{'-' * 7}|{'-' * 7}|")
        for n in sizes:
            for op in OPERATIONS:
                f, sh, w = (table[(kind, n)][op][measure] for kind in ("noop", "shaped", "webhooks"))
                print(f"| {n:>4} | {op:12} | {f:6.2f} | {sh:6.2f} | {w:6.2f} | {w / sh:5.2f} | {w / f:5.2f} | "
                      f"{sh / f:5.2f} |")
    if args.imports_floor:
        print("\nWhere W - S goes: S+I is the shaped floor with the package imported in the program and the "
              "provider host (wall s, CPU s)")
        print(f"| {'N':>4} | {'operation':12} | {'S':>11} | {'S+I':>11} | {'W':>11} | {'imports share of W-S':>20} |")
        print(f"|{'-' * 6}|{'-' * 14}|{'-' * 13}|{'-' * 13}|{'-' * 13}|{'-' * 22}|")
        for n in sizes:
            for op in OPERATIONS:
                cells = [table[(kind, n)][op] for kind in ("shaped", "imports", "webhooks")]
                gap = cells[2]["cpu"] - cells[0]["cpu"]
                share = (cells[1]["cpu"] - cells[0]["cpu"]) / gap if gap > 0.01 else float("nan")
                print(f"| {n:>4} | {op:12} | " + " | ".join(f"{c['seconds']:5.2f} {c['cpu']:5.2f}" for c in cells)
                      + f" | {share:20.2f} |")
    print("\nCheckpoint bytes per resource after `up`: the whole entry (of which inputs and outputs)")
    for n in sizes:
        cells = [f"{kind[0].upper() if kind != 'noop' else 'F'} {table[(kind, n)]['up']['state_bytes']:5.0f} "
                 f"({table[(kind, n)]['up']['property_bytes']:4.0f})" for kind in ("noop", "shaped", "webhooks")]
        print(f"  N={n:<4} " + "   ".join(cells))
    print("\nWebhooks: HTTP requests and bytes per resource (token requests excluded), token requests, "
          "the most list calls of one provider")
    print(f"| {'N':>4} | {'operation':12} | {'calls/res':>9} | {'bytes/res':>9} | {'tokens':>6} | {'lists':>5} "
          f"| {'host MiB':>8} | {'sandbox s':>9} |")
    print(f"|{'-' * 6}|{'-' * 14}|{'-' * 11}|{'-' * 11}|{'-' * 8}|{'-' * 7}|{'-' * 10}|{'-' * 11}|")
    for n in sizes:
        for op in OPERATIONS:
            row = table[("webhooks", n)][op]
            print(f"| {n:>4} | {op:12} | {row['calls'] / n:9.2f} | {row['bytes'] / n:9.0f} | {int(row['tokens']):>6} "
                  f"| {int(row['lists']):>5} | {row['peak_kib'] / 1024:8.1f} | {row['sandbox']:9.2f} |")
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(f"\nGrowth {lo} -> {hi} (x{hi / lo:g} resources): wall-time ratio per operation")
        for op in OPERATIONS:
            grow = {kind: table[(kind, hi)][op]["seconds"] / table[(kind, lo)][op]["seconds"] for kind in kinds}
            print(f"  {op:12} F x{grow['noop']:5.2f}   S x{grow['shaped']:5.2f}   W x{grow['webhooks']:5.2f}")
    print(f"\nImport (medians of 21 interleaved, bytecode compiled): pulumi.dynamic {imports['base']:.0f} ms; "
          f"on top of it pulumi_webhooks.phonepe adds {imports['one']:.0f} ms, all five provider modules "
          f"{imports['five']:.0f} ms, of which pydantic's own modules {imports['pydantic']:.0f} ms")
    print("\nCheck and Diff per resource, in-process (ms, median of 7 x 500 calls; the engine's gRPC not included)")
    print(f"| {'provider':10} | {'check ms':>8} | {'diff ms':>8} |")
    print(f"|{'-' * 12}|{'-' * 10}|{'-' * 10}|")
    for name, check_ms, diff_ms in check_diff_cost():
        print(f"| {name:10} | {check_ms:8.3f} | {diff_ms:8.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
