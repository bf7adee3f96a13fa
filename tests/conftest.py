"""Fixtures shared by every test: the sandbox, in-process or on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pulumi_webhooks import _config, _http, _journal, _lifecycle
from pulumi_webhooks._registry import PROVIDERS
from pulumi_webhooks.sandbox import Sandbox, SandboxServer, SandboxTransport

from .helpers import SANDBOX_URL, FakeClock, sandbox_client

BASELINE_SETTINGS = {
    "KOTANIPAY_API_KEY": "baseline-kotanipay-key", "KOTANIPAY_BASE_URL": "http://127.0.0.1:9/kotanipay",
    "VELAFI_API_KEY": "baseline-velafi-key", "VELAFI_API_SECRET": "baseline-velafi-secret",
    "VELAFI_BASE_URL": "http://127.0.0.1:9/velafi",
    "SAFEPAY_SECRET_KEY": "baseline-safepay-key", "SAFEPAY_BASE_URL": "http://127.0.0.1:9/safepay",
    "SPRITZ_API_KEY": "baseline-spritz-key", "SPRITZ_INTEGRATOR_KEY": "baseline-spritz-integrator",
    "SPRITZ_BASE_URL": "http://127.0.0.1:9/spritz",
    "PHONEPE_CLIENT_ID": "baseline-phonepe-id", "PHONEPE_CLIENT_SECRET": "baseline-phonepe-secret",
    "PHONEPE_BASE_URL": "http://127.0.0.1:9/phonepe",
}


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's provider settings, a previous test's clients or its
    create journal."""
    import os

    for name in list(os.environ):
        if name.split("_", 1)[0] in {provider.name.upper() for provider in PROVIDERS}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PULUMI_WEBHOOKS_RETRY_DEADLINE", "5")
    monkeypatch.setenv(_journal.JOURNAL_DIR_ENV, str(tmp_path / "journal"))
    _journal.forget_journals()
    # Settings that pass `check` (which fails preview on a missing credential), pointing at a
    # loopback port nothing listens on: a test that forgets the sandbox fails fast, offline.
    for name, value in BASELINE_SETTINGS.items():
        monkeypatch.setenv(name, value)
    _config.set_stack_config({})
    _lifecycle.reset_claims()
    with _http.use_clients(_http.Clients()):  # clients of this test alone
        yield
    _lifecycle.reset_claims()
    _config.set_stack_config({})


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider settings at all (for tests of defaults and of missing settings)."""
    for name in BASELINE_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> FakeClock:
    """The clock provider clients of the test wait on: their retries pause at once, recorded."""
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[Sandbox]:
    """A fresh in-process sandbox; every provider client talks to it (waiting on ``clock``),
    and the stack config points every provider at it (as `configure` would)."""
    sb = Sandbox(base_url=SANDBOX_URL, seed=1)
    with _http.use_clients(_http.Clients(SandboxTransport(sb), clock)):
        _config.set_stack_config(sb.stack_config())
        yield sb


@pytest.fixture
def sb() -> Sandbox:
    """A fresh in-process sandbox for raw HTTP tests; unlike ``sandbox``, provider clients do not reach it."""
    return Sandbox(base_url=SANDBOX_URL, seed=7)


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    """A raw HTTP client of ``sb``: requests exactly as a test writes them."""
    with sandbox_client(sb) as client:
        yield client


@pytest.fixture
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A fresh sandbox served on a free loopback port (for the real engine)."""
    server = SandboxServer(Sandbox(seed=1)).start()
    try:
        yield server
    finally:
        server.stop()
