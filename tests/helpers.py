"""Helpers shared by the test suites (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dill  # type: ignore[import-untyped]
import httpx
import pulumi
from pulumi.dynamic import CheckFailure

from pulumi_webhooks._lifecycle import PROVIDER_KEY
from pulumi_webhooks.sandbox import Sandbox, SandboxTransport

#: The base URL of an in-process sandbox (never resolved: a transport serves it).
SANDBOX_URL = "http://sandbox.invalid"


def sandbox_client(sb: Sandbox, path: str = "") -> httpx.Client:
    """A client whose requests ``sb`` answers in-process, based at ``path`` below the sandbox."""
    return httpx.Client(transport=SandboxTransport(sb), base_url=SANDBOX_URL + path)


class FakeClock:
    """A clock whose sleeps return at once: each is recorded and moves the clock on by its length.

    Its wall time starts at ``wall``, by default the real time, so that tokens a sandbox issues
    by the real clock look as fresh to a client on this clock as they are."""

    def __init__(self, wall: float | None = None) -> None:
        self._lock = threading.Lock()
        self._wall_start = time.time() if wall is None else wall
        self._passed = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._passed

    def time(self) -> float:
        with self._lock:
            return self._wall_start + self._passed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._passed += seconds

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass without a sleep (as if the process had been busy)."""
        with self._lock:
            self._passed += seconds


def in_threads(work: Callable[[], object], threads: int = 8, *, together: bool = False) -> list[BaseException]:
    """Run ``work`` on ``threads`` threads (all released at once when ``together``);
    what they raised, so that a test can assert it is nothing."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def run() -> None:
        try:
            if together:
                barrier.wait()
            work()
        except BaseException as exc:  # pragma: no cover - reported to the test
            errors.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return errors


#: What a mocked resource answers: its id and the outputs added to its inputs.
MockOutputs = Callable[[pulumi.runtime.MockResourceArgs], tuple[str, dict[str, Any]]]


class _RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, outputs: MockOutputs) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self._outputs = outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.resources.append(args)
        id_, outputs = self._outputs(args)
        return id_, {**args.inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


@contextlib.contextmanager
def pulumi_mocks(outputs: MockOutputs) -> Iterator[list[pulumi.runtime.MockResourceArgs]]:
    """Pulumi programs inside the block run against mocks; yields the resources they register."""
    mocks = _RecordingMocks(outputs)
    pulumi.runtime.set_mocks(mocks, preview=False)
    try:
        yield mocks.resources
    finally:
        pulumi.runtime.settings.reset_options()


def pickled_provider(args: pulumi.runtime.MockResourceArgs) -> tuple[Any, str]:
    """The dynamic provider a mocked resource was registered with: unpickled, and as serialized."""
    serialized = args.inputs[PROVIDER_KEY]
    if isinstance(serialized, dict):  # the engine's secret envelope
        serialized = serialized["value"]
    return dill.loads(base64.b64decode(serialized)), serialized


def failures_by_field(failures: Iterable[CheckFailure]) -> dict[str, str]:
    """Check failures as field -> rule; a secret's failure names its field in the reason."""
    found: dict[str, str] = {}
    for failure in failures:
        if failure.property:
            found[failure.property] = failure.reason
        else:
            field, _, rule = failure.reason.partition(": ")
            found[field] = rule
    return found
