"""Safepay Raast Wire with the real Pulumi engine against the loopback sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pulumi

from pulumi_webhooks import safepay, verify
from pulumi_webhooks.sandbox.safepay import SANDBOX_AGGREGATOR_ID, SANDBOX_SECOND_AGGREGATOR_ID, SANDBOX_SECRET_KEY

from .conftest import StackFactory
from .harness import EngineStack, changes

URL = "https://hooks.example.com/safepay"
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def program(
    url: str = URL,
    event_types: Sequence[str] = ("payment.completed", "refund.completed"),
    description: str | None = "orders",
    rotation: str | None = None,
    aggregator_id: str | None = None,
    webhook_id: str | None = None,
) -> Callable[[], None]:
    def run() -> None:
        hook = safepay.RaastWebhook(
            "raast", url=url, event_types=list(event_types), description=description, rotation=rotation,
            aggregator_id=aggregator_id, webhook_id=webhook_id,
        )
        pulumi.export("webhook_id", hook.webhook_id)
        pulumi.export("secret", hook.secret)
        pulumi.export("secret_version", hook.secret_version)
        pulumi.export("effective_aggregator_id", hook.effective_aggregator_id)

    return run


def writes(stack: EngineStack, since: int) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in stack.writes(since, "safepay")]


def only_webhook(stack: EngineStack) -> dict[str, Any]:
    (webhook,) = stack.webhooks("safepay")
    return webhook


def outside_secrets(value: Any) -> Any:
    """The exported state (which the Automation API exports with secrets shown) minus secret-marked values."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "[secret]"
        return {k: outside_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [outside_secrets(v) for v in value]
    return value


def stored_files_text(stack: EngineStack) -> str:
    backend = Path(stack.stack.workspace.env_vars["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return "\n".join(p.read_text(errors="replace") for p in backend.rglob("*") if p.is_file())


def assert_no_plaintext(stack: EngineStack, secrets: Sequence[str]) -> None:
    clear = json.dumps(outside_secrets(stack.export_state()))
    stored = stored_files_text(stack)
    for value in [*secrets, SANDBOX_SECRET_KEY]:
        assert value not in clear, f"{value[:4]}… is in the state outside a secret"
        assert value not in stored, f"{value[:4]}… is stored in plaintext"


def test_lifecycle_drift_rotation_and_replace(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 2}
    assert writes(stack, mark) == [], "preview must not write"

    assert changes(stack.up()) == {"create": 2}
    hook = only_webhook(stack)
    out = stack.outputs()
    assert out["webhook_id"] == hook["token"]
    assert out["secret"] == hook["secret"] and out["secret_version"] == 1
    assert out["effective_aggregator_id"] == SANDBOX_AGGREGATOR_ID == hook["aggregator_id"]
    assert stack.stack.outputs()["secret"].secret is True
    seen_secrets = [hook["secret"]]
    answer = stack.admin.post(f"/deliver/safepay/{hook['token']}", json={"send": False}).raise_for_status().json()
    verify.safepay(answer["headers"], answer["body"].encode(), secret=out["secret"])

    # Same declaration, events reordered and repeated: nothing to do.
    stack.set_program(program(event_types=("refund.completed", "payment.completed", "refund.completed")))
    mark = stack.last_seq()
    assert changes(stack.preview()) == {}
    assert writes(stack, mark) == []

    # In place: description, events and a rotation in one update.
    stack.set_program(program(event_types=("payment.failed",), description="failures", rotation="2025-q1"))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"update": 1}
    hook = only_webhook(stack)
    assert hook["token"] == out["webhook_id"]
    assert (hook["description"], json.loads(hook["event_filter_json"])) == ("failures", ["payment.failed"])
    assert hook["secret_version"] == 2 and hook["secret"] != out["secret"]
    assert stack.outputs()["secret"] == hook["secret"]
    assert [m for m, _ in writes(stack, mark)] == ["PUT", "PUT"]
    seen_secrets.append(hook["secret"])

    # A dashboard edit is found by refresh and undone by up.
    stack.edit("safepay", hook["token"], {"url": "https://dashboard.example.com/x", "enabled": False})
    assert changes(stack.refresh()) == {"update": 1}
    assert changes(stack.up()) == {"update": 1}
    hook = only_webhook(stack)
    assert (hook["url"], hook["enabled"]) == (URL, True)

    # A dashboard delete is dropped by refresh and recreated by up.
    stack.remove("safepay", hook["token"])
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    hook = only_webhook(stack)
    seen_secrets.append(hook["secret"])
    assert stack.outputs()["webhook_id"] == hook["token"]

    # Naming the aggregator the webhook already lives in changes nothing;
    # naming another one replaces it there.
    stack.set_program(program(event_types=("payment.failed",), description="failures", rotation="2025-q1",
                              aggregator_id=SANDBOX_AGGREGATOR_ID))
    assert changes(stack.preview()) == {}
    stack.set_program(program(event_types=("payment.failed",), description="failures", rotation="2025-q1",
                              aggregator_id=SANDBOX_SECOND_AGGREGATOR_ID))
    assert changes(stack.up()) == {"replace": 1}
    moved = only_webhook(stack)
    assert moved["aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID and moved["token"] != hook["token"]
    assert stack.outputs()["effective_aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID
    seen_secrets.append(moved["secret"])

    assert_no_plaintext(stack, seen_secrets)
    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("safepay") == []
    assert stack.resources() == []


def test_adopt_by_webhook_id_then_destroy(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    made = httpx.post(
        f"{stack.sandbox_url}/safepay/v1/aggregators/{SANDBOX_AGGREGATOR_ID}/webhooks",
        headers={"X-SFPY-AGGREGATOR-SECRET-KEY": SANDBOX_SECRET_KEY},
        json={"url": URL, "description": "orders", "event_types": ["payment.completed", "refund.completed"]},
    ).raise_for_status().json()["data"]
    token = made["endpoint"]["token"]

    stack.set_program(program(webhook_id=token))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 2}
    assert writes(stack, mark) == [], "adopting an identical webhook writes nothing"
    assert only_webhook(stack)["token"] == token
    out = stack.outputs()
    assert out["webhook_id"] == token and out["secret"] == made["secret"]
    assert_no_plaintext(stack, [made["secret"]])

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("safepay") == []
