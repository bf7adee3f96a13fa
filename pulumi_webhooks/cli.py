"""The ``pulumi-webhooks`` command: the local sandbox and adoption of existing webhooks."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox, SandboxServer

    try:
        server = SandboxServer(Sandbox(state_path=args.state, seed=args.seed), host=args.host, port=args.port)
    except OSError as exc:
        print(f"pulumi-webhooks sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    sandbox = server.sandbox
    settings = sandbox.connection_settings()
    if args.config_out:
        with open(args.config_out, "w", encoding="utf-8") as f:
            json.dump({"url": server.url, **settings}, f, indent=1, sort_keys=True)
    print(f"pulumi-webhooks sandbox listening on {server.url}", flush=True)
    for name in sandbox.apps:
        print(f"  {name:<10} {sandbox.provider_url(name)}")
    print(f"  admin      {server.url}/_sandbox  (journal, faults, out-of-band edits)")
    if args.state:
        print(f"  state      {args.state}")
    print("Point a stack at it with:")
    for key, value in settings["config"].items():
        secret = "--secret " if key in settings["secrets"] else ""
        print(f"  pulumi config set {secret}{key} {value}")
    sys.stdout.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    return 0


def _use_sandbox(args: argparse.Namespace) -> int:
    import subprocess

    import httpx

    try:
        settings = httpx.get(f"{args.url.rstrip('/')}/_sandbox/config", timeout=10).raise_for_status().json()
    except httpx.HTTPError as exc:
        print(f"pulumi-webhooks use-sandbox: no sandbox at {args.url}: {exc}", file=sys.stderr)
        return 1
    stack = ["--stack", args.stack] if args.stack else []
    for key, value in settings["config"].items():
        secret = ["--secret"] if key in settings["secrets"] else []
        done = subprocess.run(["pulumi", "config", "set", *secret, *stack, key, value, "--non-interactive"])
        if done.returncode != 0:
            return done.returncode
    print(f"stack config now points every provider at {args.url}", file=sys.stderr)
    return 0


def _discover(args: argparse.Namespace) -> int:
    from .discover import discover

    return discover(
        args.provider, out=sys.stdout, account=args.account, stack=args.stack, read_stack=True,
        exclude_stacks=args.exclude_stack or (),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulumi-webhooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="serve all five provider APIs locally")
    sandbox.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    sandbox.add_argument("--port", type=int, default=8787, help="port (0 picks a free one)")
    sandbox.add_argument("--state", help="keep the sandbox's data in this JSON file across restarts")
    sandbox.add_argument("--seed", type=int, help="seed for fault injection, for repeatable runs")
    sandbox.add_argument(
        "--config-out", help="once listening, write its URL and stack config to this JSON file (for scripts)"
    )
    sandbox.set_defaults(run=_sandbox)

    use = commands.add_parser("use-sandbox", help="point the current stack's config at a running sandbox")
    use.add_argument("--url", default="http://127.0.0.1:8787", help="the sandbox's URL")
    use.add_argument("--stack", help="the stack to configure (default: the selected one)")
    use.set_defaults(run=_use_sandbox)

    discover = commands.add_parser(
        "discover", help="list a provider's existing webhooks and print declarations that adopt them"
    )
    discover.add_argument("provider", choices=["kotanipay", "velafi", "safepay", "spritz", "phonepe"])
    discover.add_argument("--account", help="the account whose settings to use (<ns>:accounts.<name>.*)")
    discover.add_argument("--stack", help="the stack whose config to read (default: the selected one)")
    discover.add_argument(
        "--exclude-stack", action="append", metavar="STACK",
        help="leave out the webhooks this stack already holds (repeatable)",
    )
    discover.set_defaults(run=_discover)

    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
