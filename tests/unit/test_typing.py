"""What users' type checkers see: ``mypy --strict`` on small user programs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
    import pulumi

    from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi

    config = pulumi.Config()
    refunds: list[str] = ["pg.refund.completed", "pg.refund.failed"]
    phonepe.Webhook("a", url="https://x.example", events=refunds, username="user01",
                    password=config.require_secret("password"))
    phonepe.Webhook("b", url="https://x.example", events=("pg.order.completed",), username="user01", password="p")
    kotanipay.IntegratorWebhook("k", url="https://x.example", secret="s", events=("payment.confirmed",))
    safepay.RaastWebhook("s", url="https://x.example", event_types=["payment.completed"])
    spritz.IntegratorWebhook("z", url="https://x.example", events=refunds)
    names: tuple[phonepe.EventName, ...] = ("pg.refund.completed",)
    phonepe.Webhook("c", url="https://x.example", events=names, username="user01", password="p")
    kind: velafi.EventTypeName = "ORDER_WEBHOOK"
    hook = velafi.Webhook("v", event_type=kind, url="https://x.example")
    key: pulumi.Output[str] = hook.public_key
    made: pulumi.Output[int] = phonepe.Webhook("d", url="https://x.example", events=refunds, username="user01",
                                               password="p").created_at
"""

BAD = """
    from pulumi_webhooks import phonepe, velafi

    phonepe.Webhook("a", url="https://x.example", events=3, username="user01", password="p")
    typo: phonepe.EventName = "pg.refund.complete"
    kind: velafi.EventTypeName = "ORDER"
    plain: str = velafi.Webhook("v", event_type="ORDER_WEBHOOK", url="https://x.example").public_key
"""


def _mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(source))
    # The package as a user sees it: its sources with py.typed (editable installs hide it from mypy).
    os.environ["MYPYPATH"] = str(ROOT)
    try:
        out, err, status = api.run(["--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache"),
                                    str(program)])
    finally:
        del os.environ["MYPYPATH"]
    return out + err, status


def test_user_programs_pass_mypy_strict_with_lists_tuples_and_literals(tmp_path: Path) -> None:
    assert (ROOT / "pulumi_webhooks" / "py.typed").exists()
    output, status = _mypy(tmp_path, GOOD)
    assert status == 0, output


def test_mypy_catches_wrong_types_and_misspelt_literals(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, BAD)
    assert status == 1
    lines = output.splitlines()
    assert any(":4:" in line and "events" in line for line in lines), output
    assert any(":5:" in line and "pg.refund.complete" in line for line in lines), output
    assert any(":6:" in line and "ORDER" in line for line in lines), output
    assert any(":7:" in line and "Output[str]" in line for line in lines), output
