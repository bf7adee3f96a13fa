"""The pulumi-webhooks command: the local sandbox, local webhook development, and adoption."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import textwrap
import threading
from collections.abc import Sequence

from . import __version__
from ._errors import WebhookError
from ._registry import NAMES, PROVIDERS

__all__ = ["DESCRIPTION", "EPILOG", "main", "parser", "use_sandbox_command"]

_TITLES = [provider.title for provider in PROVIDERS]

# Plain text: argparse prints these as they are, so no reST markup.
DESCRIPTION = textwrap.fill(
    f"Manage the webhook settings of {', '.join(_TITLES[:-1])} and {_TITLES[-1]} from Pulumi, "
    "and develop webhook receivers locally.",
    width=86,
) + "\n"

EPILOG = """\
examples:
  pulumi-webhooks sandbox --port 8787                      serve all five APIs on loopback
  pulumi-webhooks use-sandbox phonepe safepay              point this stack at it
  pulumi-webhooks trigger spritz payment.completed --forward-to http://127.0.0.1:8000/hooks
  pulumi-webhooks listen --forward-to http://127.0.0.1:8000/hooks
  pulumi-webhooks discover safepay > adopt.py              declarations adopting what exists

Run "pulumi-webhooks <command> --help" for a command's options.
"""


def _fail(command: str, message: object) -> int:
    print(f"pulumi-webhooks {command}: {message}", file=sys.stderr)
    return 1


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import MissingDependency, Sandbox, SandboxServer

    try:
        sandbox = Sandbox(state_path=args.state, seed=args.seed)
        server = SandboxServer(sandbox, host=args.host, port=args.port, allow_remote=args.allow_remote)
    except (MissingDependency, ValueError) as exc:
        return _fail("sandbox", exc)
    except OSError as exc:
        return _fail("sandbox", f"cannot listen on {args.host}:{args.port}: {exc}")
    settings = sandbox.connection_settings()
    if args.config_out:
        with open(args.config_out, "w", encoding="utf-8") as f:
            json.dump({"url": server.url, **settings}, f, indent=1, sort_keys=True)
    print(f"pulumi-webhooks sandbox listening on {server.url}", flush=True)
    if args.allow_remote:
        print("  warning: reachable from other machines (--allow-remote); its credentials are public",
              file=sys.stderr)
    for name in sandbox.apps:
        print(f"  {name:<10} {sandbox.provider_url(name)}")
    print(f"  admin      {server.url}/_sandbox  (journal, faults, out-of-band edits)")
    if args.state:
        print(f"  state      {args.state}")
    print("Point the selected stack at it with:")
    print(f"  pulumi-webhooks use-sandbox --url {server.url} [provider ...]")
    print("Stop it with Ctrl-C (or kill its process: it stops on SIGTERM).")
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


def use_sandbox_command(settings: dict[str, object], providers: Sequence[str], stack: str | None) -> list[str]:
    """The one ``pulumi config set-all`` call that points ``providers`` (all when empty) at a sandbox."""
    config = settings["config"]
    secrets = settings["secrets"]
    assert isinstance(config, dict) and isinstance(secrets, list)
    wanted = set(providers or NAMES)
    command = ["pulumi", "config", "set-all", "--non-interactive", *(["--stack", stack] if stack else [])]
    for key, value in sorted(config.items()):
        if key.split(":", 1)[0] in wanted:
            command += ["--secret" if key in secrets else "--plaintext", f"{key}={value}"]
    return command


def _use_sandbox(args: argparse.Namespace) -> int:
    import subprocess

    import httpx

    try:
        settings = httpx.get(f"{args.url.rstrip('/')}/_sandbox/config", timeout=10).raise_for_status().json()
    except httpx.HTTPError as exc:
        return _fail("use-sandbox", f"no sandbox at {args.url}: {exc}")
    unknown = [p for p in args.providers if p not in NAMES]
    if unknown:
        return _fail("use-sandbox", f"unknown provider {unknown[0]!r}; one of {', '.join(NAMES)}")
    command = use_sandbox_command(settings, args.providers, args.stack)
    try:
        done = subprocess.run(command, check=False)
    except FileNotFoundError:
        return _fail("use-sandbox", "the Pulumi CLI (pulumi) is not on PATH")
    if done.returncode != 0:
        return _fail("use-sandbox", f"pulumi config set-all failed (exit {done.returncode})")
    named = ", ".join(args.providers) if args.providers else "every provider"
    print(f"stack config now points {named} at {args.url}", file=sys.stderr)
    return 0


def _trigger(args: argparse.Namespace) -> int:
    from ._localdev import trigger

    signing: dict[str, str] = {}
    if args.secret:
        signing["secret"] = args.secret
    if args.private_key:
        try:
            with open(args.private_key, encoding="utf-8") as f:
                signing["private_key"] = f.read()
        except OSError as exc:
            return _fail("trigger", f"cannot read {args.private_key}: {exc}")
    if args.username:
        signing["username"] = args.username
    if args.password:
        signing["password"] = args.password
    try:
        done = trigger(args.provider, args.event, forward_to=args.forward_to, signing=signing)
    except WebhookError as exc:
        return _fail("trigger", exc)
    if args.forward_to is None:
        json.dump(done.as_json(), sys.stdout, indent=1)
        print()
        return 0
    print(f"{args.provider} {args.event} -> {args.forward_to}: {done.status}")
    print(f"verify with: {json.dumps(done.verify_with)}", file=sys.stderr)
    if done.status is not None and done.status >= 400:
        return _fail("trigger", f"the receiver answered {done.status}: {(done.answer or '')[:200]}")
    return 0


def _listen(args: argparse.Namespace) -> int:
    from ._localdev import Listener

    try:
        listener = Listener(args.sandbox, args.forward_to)
    except WebhookError as exc:
        return _fail("listen", exc)
    print(f"forwarding deliveries for changes made at {args.sandbox} to {args.forward_to} (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: listener.stop())
    try:
        listener.run()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    return 0


def _host_script(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._host import write_script

    path = write_script(Path(args.directory))
    print(f"wrote {path}; put {args.directory} ahead of the pulumi CLI's own directory on PATH", file=sys.stderr)
    return 0


def _discover(args: argparse.Namespace) -> int:
    from .discover import discover

    return discover(
        args.provider, out=sys.stdout, account=args.account, stack=args.stack, read_stack=True,
        exclude_stacks=args.exclude_stack or (),
    )


def parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    top = argparse.ArgumentParser(prog="pulumi-webhooks", description=DESCRIPTION, epilog=EPILOG,
                                  formatter_class=formatter)
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="command")

    sandbox = commands.add_parser(
        "sandbox", help="serve all five provider APIs locally", formatter_class=formatter,
        description="Serve the webhook APIs of all five providers on one loopback port, each under its own\n"
                    "prefix, with an admin API under /_sandbox. Needs the [sandbox] extra (cryptography).",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (0 picks a free one; default 8787)")
    sandbox.add_argument("--allow-remote", action="store_true",
                         help="allow a non-loopback --host: anyone who reaches it can use the public sandbox "
                              "credentials")
    sandbox.add_argument("--state", help="keep the sandbox's data in this JSON file across restarts")
    sandbox.add_argument("--seed", type=int, help="seed for fault injection, for repeatable runs")
    sandbox.add_argument(
        "--config-out", help="once listening, write its URL and stack config to this JSON file (for scripts)"
    )
    sandbox.set_defaults(run=_sandbox)

    use = commands.add_parser(
        "use-sandbox", help="point the selected stack's config at a running sandbox", formatter_class=formatter,
        description="Set, in one `pulumi config set-all` call, the base URL and sandbox credentials of the\n"
                    "providers named (every provider when none is), credentials as secrets.",
    )
    use.add_argument("providers", nargs="*", metavar="provider",
                     help=f"providers to point at the sandbox: {', '.join(NAMES)} (default: all)")
    use.add_argument("--url", default="http://127.0.0.1:8787", help="the sandbox's URL")
    use.add_argument("--stack", help="the stack to configure (default: the selected one)")
    use.set_defaults(run=_use_sandbox)

    trig = commands.add_parser(
        "trigger", help="send (or print) one delivery signed as the provider signs it", formatter_class=formatter,
        description="Build one sample delivery of EVENT, signed exactly as PROVIDER signs deliveries, and\n"
                    "post it to a loopback --forward-to URL, or print it (headers, body, and what verifies it)\n"
                    "as JSON. Signing material not given is made up and shown.",
    )
    trig.add_argument("provider", choices=NAMES)
    trig.add_argument("event", help="an event name (VelaFi: an event type such as ORDER_WEBHOOK)")
    trig.add_argument("--forward-to", metavar="URL", help="loopback URL to post the delivery to")
    trig.add_argument("--secret", help="webhook secret (Kotani Pay, Spritz; Safepay: its base64 secret)")
    trig.add_argument("--private-key", metavar="PEM_FILE", help="VelaFi: RSA private key to sign with")
    trig.add_argument("--username", help="PhonePe: the webhook's username")
    trig.add_argument("--password", help="PhonePe: the webhook's password")
    trig.set_defaults(run=_trigger)

    listen = commands.add_parser(
        "listen", help="forward deliveries for webhooks a stack changes in the sandbox", formatter_class=formatter,
        description="Watch a running sandbox; for every webhook created or changed through its provider\n"
                    "APIs (as `pulumi up` does), have the sandbox sign a sample event and post it to --forward-to.",
    )
    listen.add_argument("--forward-to", metavar="URL", required=True, help="loopback URL to post deliveries to")
    listen.add_argument("--sandbox", default="http://127.0.0.1:8787", metavar="URL", help="the sandbox's URL")
    listen.set_defaults(run=_listen)

    discover = commands.add_parser(
        "discover", help="list a provider's existing webhooks and print declarations that adopt them",
        formatter_class=formatter,
    )
    discover.add_argument("provider", choices=NAMES)
    discover.add_argument("--account", help="the account whose settings to use (<ns>:accounts.<name>.*)")
    discover.add_argument("--stack", help="the stack whose config to read (default: the selected one)")
    discover.add_argument(
        "--exclude-stack", action="append", metavar="STACK",
        help="leave out the webhooks this stack already holds (repeatable)",
    )
    discover.set_defaults(run=_discover)

    host = commands.add_parser(
        "host-script", help="write the dynamic provider host that serves the engine's calls in parallel",
        description="Write pulumi-resource-pulumi-python into DIRECTORY: Pulumi's host for Python dynamic "
                    "providers, with as many threads as the engine sends calls (the SDK's serves 4 at once). "
                    "The engine uses the one it finds on PATH first.",
        formatter_class=formatter,
    )
    host.add_argument("directory", help="where to write it (a directory ahead of pulumi's on PATH)")
    host.set_defaults(run=_host_script)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except WebhookError as exc:
        return _fail(args.command, exc)


if __name__ == "__main__":
    sys.exit(main())
