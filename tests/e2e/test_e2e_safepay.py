"""Safepay Raast Wire with the real Pulumi engine against the loopback sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx
import pulumi

from pulumi_webhooks import safepay, verify
from pulumi_webhooks.sandbox.safepay import SANDBOX_AGGREGATOR_ID, SANDBOX_SECOND_AGGREGATOR_ID, SANDBOX_SECRET_KEY

from .conftest import StackFactory
from .harness import SECRET_SIG, EngineStack, assert_no_plaintext, changes

URL = "https://hooks.example.com/safepay"


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


def test_lifecycle_drift_rotation_and_replace(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    mark = stack.last_seq()
    assert changes(stack.preview()) == {"create": 2}
    assert stack.write_calls(mark, "safepay") == [], "preview must not write"

    assert changes(stack.up()) == {"create": 2}
    hook = stack.only_webhook("safepay")
    out = stack.outputs()
    assert out["webhook_id"] == hook["token"]
    assert out["secret"] == hook["secret"] and out["secret_version"] == 1
    assert out["effective_aggregator_id"] == SANDBOX_AGGREGATOR_ID == hook["aggregator_id"]
    assert stack.stack.outputs()["secret"].secret is True
    seen_secrets = [hook["secret"]]
    verify.safepay(*stack.delivery("safepay", hook["token"]), secret=out["secret"])

    # Same declaration, events reordered and repeated: nothing to do.
    stack.set_program(program(event_types=("refund.completed", "payment.completed", "refund.completed")))
    mark = stack.last_seq()
    assert changes(stack.preview()) == {}
    assert stack.write_calls(mark, "safepay") == []

    # In place: description, events and a rotation in one update.
    stack.set_program(program(event_types=("payment.failed",), description="failures", rotation="2025-q1"))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"update": 1}
    hook = stack.only_webhook("safepay")
    assert hook["token"] == out["webhook_id"]
    assert (hook["description"], json.loads(hook["event_filter_json"])) == ("failures", ["payment.failed"])
    assert hook["secret_version"] == 2 and hook["secret"] != out["secret"]
    assert stack.outputs()["secret"] == hook["secret"]
    assert [m for m, _ in stack.write_calls(mark, "safepay")] == ["PUT", "PUT"]
    seen_secrets.append(hook["secret"])

    # A dashboard edit is found by refresh and undone by up.
    stack.edit("safepay", hook["token"], {"url": "https://dashboard.example.com/x", "enabled": False})
    assert changes(stack.refresh()) == {"update": 1}
    assert changes(stack.up()) == {"update": 1}
    hook = stack.only_webhook("safepay")
    assert (hook["url"], hook["enabled"]) == (URL, True)

    # A dashboard delete is dropped by refresh and recreated by up.
    stack.remove("safepay", hook["token"])
    assert changes(stack.refresh()) == {"delete": 1}
    assert changes(stack.up()) == {"create": 1}
    hook = stack.only_webhook("safepay")
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
    moved = stack.only_webhook("safepay")
    assert moved["aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID and moved["token"] != hook["token"]
    assert stack.outputs()["effective_aggregator_id"] == SANDBOX_SECOND_AGGREGATOR_ID
    seen_secrets.append(moved["secret"])

    assert_no_plaintext(stack, [*seen_secrets, SANDBOX_SECRET_KEY])
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
    assert stack.write_calls(mark, "safepay") == [], "adopting an identical webhook writes nothing"
    assert stack.only_webhook("safepay")["token"] == token
    out = stack.outputs()
    assert out["webhook_id"] == token and out["secret"] == made["secret"]
    assert_no_plaintext(stack, [made["secret"], SANDBOX_SECRET_KEY])

    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.webhooks("safepay") == []


def assert_sealed(stack: EngineStack, current: str, seen: Sequence[str]) -> None:
    """The webhook's ``secret`` is a secret in the state (the export marks it; the backend
    stores only its ciphertext), holds ``current``, and no secret ever seen is in the clear."""
    (resource,) = stack.resources("safepay:RaastWebhook")
    sealed = resource["outputs"]["secret"]
    assert isinstance(sealed, dict) and SECRET_SIG in sealed, "secret is in the state as plaintext"
    if "plaintext" in sealed:  # an export with secrets shown carries the JSON-encoded value
        assert json.loads(sealed["plaintext"]) == current
    else:
        assert sealed.get("ciphertext"), sealed
    assert_no_plaintext(stack, [*seen, SANDBOX_SECRET_KEY])


def test_the_secret_stays_sealed_after_refresh_and_update(engine_stack: StackFactory) -> None:
    # Safepay's get, list and update answers carry the signing secret too, not only create.
    stack = engine_stack(program())
    assert changes(stack.up()) == {"create": 2}
    hook = stack.only_webhook("safepay")
    seen = [hook["secret"]]
    assert_sealed(stack, hook["secret"], seen)

    # A dashboard rotation: refresh reads the new secret from the get answer (an output the
    # program does not declare, so the engine counts the resource as the same).
    stack.edit("safepay", hook["token"], {"rotate": True})
    stack.refresh()
    rotated = stack.only_webhook("safepay")["secret"]
    assert rotated != hook["secret"]
    seen.append(rotated)
    assert_sealed(stack, rotated, seen)

    # An in-place update: the PUT answer's secret goes into the state sealed as well.
    stack.set_program(program(description="renamed"))
    assert changes(stack.up()) == {"update": 1}
    assert stack.only_webhook("safepay")["description"] == "renamed"
    assert_sealed(stack, rotated, seen)
    assert stack.stack.outputs()["secret"].secret is True

    assert changes(stack.destroy()) == {"delete": 2}
