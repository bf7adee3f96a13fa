"""Drive the real Pulumi engine through the Automation API.

Each :class:`EngineStack` is an inline program in a fresh ``file://`` backend,
with a passphrase secrets provider and the stack config pointing every
provider at a loopback sandbox. The CLI comes from PULUMI_WEBHOOKS_PULUMI_DIR
(set by ``scripts/test``) or PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pulumi import automation as auto
from pulumi.automation.errors import CommandError

PASSPHRASE = "correct horse battery staple"
#: Marks a secret value in a state exported with its secrets shown.
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def project_on_disk(directory: Path, program: str) -> Path:
    """A Pulumi project folder whose ``__main__.py`` is ``program`` (named after the folder)."""
    directory.mkdir(parents=True)
    (directory / "Pulumi.yaml").write_text(f"name: {directory.name}\nruntime: python\n")
    (directory / "__main__.py").write_text(program)
    return directory


def pulumi_dir() -> str:
    """The directory holding the pulumi CLI and its Python hosts."""
    configured = os.environ.get("PULUMI_WEBHOOKS_PULUMI_DIR")
    if configured:
        return configured
    found = shutil.which("pulumi")
    if not found:
        raise RuntimeError("no pulumi CLI: run scripts/setup, or set PULUMI_WEBHOOKS_PULUMI_DIR")
    return str(Path(found).parent)


ROOT = Path(__file__).resolve().parents[2]


class EngineStack:
    """One stack of a program (inline, or a project folder), against the sandbox at ``sandbox_url``."""

    def __init__(
        self,
        workdir: Path,
        sandbox_url: str,
        program: Callable[[], None] | Path,
        *,
        config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "test",
    ) -> None:
        self.sandbox_url = sandbox_url.rstrip("/")
        self.admin = httpx.Client(base_url=f"{self.sandbox_url}/_sandbox", timeout=30)
        self.output: list[str] = []
        state = workdir / "state"
        home = workdir / "home"
        state.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        bin_dir = pulumi_dir()
        env_vars = {
            "PULUMI_BACKEND_URL": state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_PYTHON_CMD": sys.executable,
            # tests.noop is not shipped in the package: the engine's provider process imports it from here.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_WEBHOOKS_RETRY_DEADLINE": os.environ.get("PULUMI_WEBHOOKS_RETRY_DEADLINE", "30"),
            **(env or {}),
        }
        command = auto.PulumiCommand(root=str(Path(bin_dir).parent))
        if isinstance(program, Path):
            # A program on disk, run by the Python language host like `pulumi up` would.
            self.stack = auto.create_or_select_stack(
                stack_name=name,
                work_dir=str(program),
                opts=auto.LocalWorkspaceOptions(
                    work_dir=str(program), pulumi_home=str(home), env_vars=env_vars, pulumi_command=command,
                ),
            )
        else:
            self.stack = auto.create_or_select_stack(
                stack_name=name,
                project_name="webhooks-test",
                program=program,
                opts=auto.LocalWorkspaceOptions(
                    work_dir=str(workdir),
                    pulumi_home=str(home),
                    env_vars=env_vars,
                    pulumi_command=command,
                    project_settings=auto.ProjectSettings(
                        name="webhooks-test",
                        runtime="python",
                        backend=auto.ProjectBackend(url=state.as_uri()),
                    ),
                ),
            )
        settings = self.admin.get("/config").raise_for_status().json()
        #: The stack config that points every provider at the sandbox, credentials included.
        self.sandbox_config: dict[str, str] = settings["config"]
        self.secret_keys = set(settings["secrets"])
        self.set_config(config if config is not None else self.sandbox_config)

    # -- configuration -----------------------------------------------------------------
    def set_config(self, values: Mapping[str, str]) -> None:
        self.stack.set_all_config(
            {
                key: auto.ConfigValue(value=value, secret=key in self.secret_keys)
                for key, value in values.items()
            }
        )

    def credentials(self, provider: str | None = None) -> list[str]:
        """The sandbox's secret settings (of ``provider``, else of every provider)."""
        return [
            value for key, value in self.sandbox_config.items()
            if key in self.secret_keys and (provider is None or key.startswith(f"{provider}:"))
        ]

    def set_program(self, program: Callable[[], None]) -> None:
        self.stack.workspace.program = program

    # -- operations ------------------------------------------------------------------------
    def _on_output(self, line: str) -> None:
        self.output.append(line)

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        return self.stack.preview(on_output=self._on_output, color="never", **kwargs)

    def failed_preview(self) -> str:
        """The message of a preview that must fail before calling any provider."""
        mark = self.last_seq()
        try:
            self.preview()
        except CommandError as failed:
            assert self.journal(mark) == [], "a failed preview called a provider"
            return str(failed)
        raise AssertionError("the preview succeeded")

    def up(self, **kwargs: Any) -> auto.UpResult:
        return self.stack.up(on_output=self._on_output, color="never", **kwargs)

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        return self.stack.refresh(on_output=self._on_output, color="never", **kwargs)

    def destroy(self, **kwargs: Any) -> auto.DestroyResult:
        return self.stack.destroy(on_output=self._on_output, color="never", **kwargs)

    def outputs(self) -> dict[str, Any]:
        return {k: v.value for k, v in self.stack.outputs().items()}

    def export_state(self) -> dict[str, Any]:
        return dict(self.stack.export_stack().deployment)

    @property
    def backend_dir(self) -> Path:
        """Where the file backend keeps this stack's state."""
        return Path(urlsplit(self.stack.workspace.env_vars["PULUMI_BACKEND_URL"]).path)

    def state_text(self) -> str:
        """Every file the backend keeps (checkpoints, backups, history) as stored on disk.

        ``export_state`` decrypts (the Automation API exports with
        ``--show-secrets``), so what must hold no plaintext is the files.
        """
        files = sorted(p for p in (self.backend_dir / ".pulumi").rglob("*") if p.is_file())
        if not files:
            raise AssertionError(f"no backend files under {self.backend_dir}")
        return "\n".join(p.read_text(errors="replace") for p in files)

    def resources(self, type_suffix: str = "") -> list[dict[str, Any]]:
        """Resources in the state whose type ends with ``type_suffix``."""
        return [
            r for r in self.export_state().get("resources", [])
            if r.get("type", "").endswith(type_suffix) and r.get("custom")
            and not r.get("type", "").startswith("pulumi:providers:")
        ]

    # -- sandbox admin ------------------------------------------------------------------------
    def journal(self, since: int = 0, provider: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"since": since}
        if provider:
            params["provider"] = provider
        return list(self.admin.get("/journal", params=params).raise_for_status().json())

    def last_seq(self) -> int:
        rows = self.journal()
        return rows[-1]["seq"] if rows else 0

    def writes(self, since: int = 0, provider: str | None = None) -> list[dict[str, Any]]:
        """Journal rows of write calls (anything but GET, and not token issuance)."""
        return [
            r for r in self.journal(since, provider)
            if r["method"] != "GET" and "token" not in r["path"]
        ]

    def write_calls(self, since: int, provider: str) -> list[tuple[str, str]]:
        """(method, path) of the write calls to ``provider`` since ``since``."""
        return [(r["method"], r["path"]) for r in self.writes(since, provider)]

    def webhooks(self, provider: str) -> list[dict[str, Any]]:
        return list(self.admin.get(f"/webhooks/{provider}").raise_for_status().json())

    def only_webhook(self, provider: str) -> dict[str, Any]:
        """The one webhook ``provider`` holds (there must be exactly one)."""
        held = self.webhooks(provider)
        assert len(held) == 1, held
        return held[0]

    def edit(self, provider: str, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        response = self.admin.patch(f"/webhooks/{provider}/{webhook_id}", json=dict(changes))
        return dict(response.raise_for_status().json())

    def delivery(self, provider: str, webhook_id: str) -> tuple[dict[str, str], bytes]:
        """(headers, body) of a test event for ``webhook_id``, signed as ``provider`` signs, not sent."""
        made = self.admin.post(f"/deliver/{provider}/{webhook_id}", json={"send": False}).raise_for_status().json()
        return made["headers"], made["body"].encode()

    def remove(self, provider: str, webhook_id: str) -> None:
        self.admin.delete(f"/webhooks/{provider}/{webhook_id}").raise_for_status()

    def add_fault(self, **rule: Any) -> None:
        self.admin.post("/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        self.admin.delete("/faults").raise_for_status()

    def close(self) -> None:
        self.admin.close()


def outside_secrets(value: Any) -> Any:
    """An exported state (which shows secrets) with every secret-marked value taken out:
    whatever is left is stored in the clear."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "[secret]"
        return {k: outside_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [outside_secrets(v) for v in value]
    return value


def assert_no_plaintext(stack: EngineStack, values: Iterable[str]) -> None:
    """None of ``values`` is stored in plaintext: not in the backend's files (where secrets
    are encrypted), and nowhere outside a secret in the export (which decrypts them)."""
    clear = json.dumps(outside_secrets(stack.export_state()))
    stored = stack.state_text()
    for value in values:
        assert value not in clear, f"{value[:4]}… is in the state outside a secret"
        assert value not in stored, f"{value[:4]}… is stored in plaintext"


def changes(result: auto.PreviewResult | auto.UpResult | auto.RefreshResult | auto.DestroyResult) -> dict[str, int]:
    """The change summary without the 'same' count, e.g. {'create': 2}."""
    if isinstance(result, auto.PreviewResult):
        summary = dict(result.change_summary)
    else:
        summary = dict(result.summary.resource_changes or {})
    return {k: v for k, v in summary.items() if k != "same" and v}
