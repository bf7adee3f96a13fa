"""The dynamic provider host, serving as many calls at once as the engine sends.

Pulumi's own host (``python -m pulumi.dynamic``) serves at most 4 calls at once
whatever ``--parallel`` says (its gRPC server has a 4-thread pool), so with a
provider API at 100 ms a call, 100 creates take 2.5 s of round trips however wide
the engine goes. This runs that same host with a wider pool:
``PULUMI_WEBHOOKS_HOST_THREADS`` threads (default 64, more than the engine's
default of 4 per core on any usual machine). The provider keeps no per-call state,
so more threads change nothing but how many calls wait.

The engine starts the host as ``pulumi-resource-pulumi-python``, looked up on
``PATH`` before the copy beside the CLI. :func:`write_script` (``pulumi-webhooks
host-script DIR``) writes one that runs this host with the project's interpreter
(falling back to the SDK's where pulumi-webhooks is not installed); ``scripts/setup``
puts it beside the CLI it builds, and a user of the official CLI puts it in a
directory ahead of Pulumi's on ``PATH`` (the engine then says, once per run, that it
uses the host from ``PATH``).
"""

from __future__ import annotations

import concurrent.futures
import os
import runpy
from pathlib import Path
from typing import Any

__all__ = ["SCRIPT_NAME", "THREADS_ENV", "main", "write_script"]

THREADS_ENV = "PULUMI_WEBHOOKS_HOST_THREADS"
SCRIPT_NAME = "pulumi-resource-pulumi-python"

_SCRIPT = """#!/bin/sh
# The host Pulumi starts for Python dynamic providers, with the project's interpreter:
# pulumi-webhooks' host (the SDK's, with as many threads as the engine sends calls) when the
# package is installed there, else the SDK's own.
py=${PULUMI_PYTHON_CMD:-}
[ -z "$py" ] && [ -n "${PULUMI_RUNTIME_VIRTUALENV:-}" ] && py="$PULUMI_RUNTIME_VIRTUALENV/bin/python"
exec "${py:-python3}" -u -c 'import importlib.util, runpy
wide = importlib.util.find_spec("pulumi_webhooks") is not None
runpy.run_module("pulumi_webhooks._host" if wide else "pulumi.dynamic", run_name="__main__", alter_sys=True)' "$@"
"""


def write_script(directory: Path) -> Path:
    """Write the host script into ``directory``; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SCRIPT_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_SCRIPT)
    tmp.chmod(0o755)
    tmp.replace(path)  # never a half-written host for an engine starting now
    return path


def _threads() -> int:
    try:
        return max(1, int(os.environ.get(THREADS_ENV, "64")))
    except ValueError:
        return 64


def main() -> None:
    threads = _threads()
    narrow = concurrent.futures.ThreadPoolExecutor

    class Wider(narrow):  # type: ignore[misc, valid-type]
        def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
            super().__init__(max(max_workers or 0, threads), *args, **kwargs)

    # The SDK's host builds its pool as ``futures.ThreadPoolExecutor(max_workers=4)`` when run.
    concurrent.futures.ThreadPoolExecutor = Wider  # type: ignore[misc]
    runpy.run_module("pulumi.dynamic.__main__", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
