"""Kotani Pay with the real Pulumi engine against the loopback sandbox.

Kotani has one webhook setting per integrator and no create or delete call:
`up` takes the setting over only as it is (GET, then a PATCH that sets the
secret), `destroy` puts back what `up` found while the setting is still its own. Stacks over an integrator that already
had a setting, over a fresh integrator, through a rename, and on an account with
request signing ("isSecure") turned on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pytest
from pulumi.automation.errors import CommandError

from pulumi_webhooks import kotanipay, verify
from pulumi_webhooks.sandbox.kotanipay import SANDBOX_API_KEY, SANDBOX_API_SECRET, SANDBOX_INTEGRATOR_ID

from .conftest import StackFactory
from .harness import SECRET_SIG, EngineStack, assert_no_plaintext, changes

URL = "https://hooks.example.com/kotani"
LEGACY = {"webhook_url": "https://legacy.example.com/hooks", "webhook_events": ["system.event"]}
PATCH = ("PATCH", "/kotanipay/api/v3/integrator/webhook")


def program(url: str = URL, events: Sequence[str] | None = ("payment.confirmed",),
            secret: str = "whsec_e2e_kotani_01", name: str = "kotani") -> Callable[[], None]:
    def run() -> None:
        setting = kotanipay.IntegratorWebhook(
            name, url=url, events=None if events is None else list(events), secret=secret)
        pulumi.export("integrator_id", setting.integrator_id)
        pulumi.export("url", setting.url)
        pulumi.export("events", setting.events)
        pulumi.export("original_url", setting.original_url)

    return run


def setting(stack: EngineStack) -> dict[str, Any] | None:
    found = stack.webhooks("kotanipay")
    assert len(found) <= 1
    return found[0] if found else None


def delivered_with(stack: EngineStack, secret: str) -> None:
    verify.kotanipay(*stack.delivery("kotanipay", SANDBOX_INTEGRATOR_ID), secret=secret)


def test_take_over_update_drift_and_restore_on_destroy(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    stack.edit("kotanipay", SANDBOX_INTEGRATOR_ID, LEGACY)  # set in the dashboard before Pulumi

    mark = stack.last_seq()
    preview = stack.preview()
    assert changes(preview) == {"create": 2}
    assert "takes over the account's one webhook setting" in preview.stdout
    assert stack.write_calls(mark, "kotanipay") == [], "preview must not write"

    # A setting in use is taken over only as it is.
    with pytest.raises(CommandError) as refused:
        stack.up()
    assert f"url: live '{LEGACY['webhook_url']}', declared '{URL}'" in str(refused.value)
    assert "events: live ['system.event'], declared ['payment.confirmed']" in str(refused.value)
    assert stack.write_calls(mark, "kotanipay") == []

    stack.set_program(program(url=LEGACY["webhook_url"], events=LEGACY["webhook_events"]))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 1}
    # There is no create call; the one write is the secret, which can never be compared.
    assert stack.write_calls(mark, "kotanipay") == [PATCH]
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, **LEGACY, "has_secret": True}
    delivered_with(stack, "whsec_e2e_kotani_01")

    stack.set_program(program())
    assert changes(stack.preview()) == {"update": 1}
    mark = stack.last_seq()
    assert changes(stack.up()) == {"update": 1}
    assert stack.write_calls(mark, "kotanipay") == [PATCH]
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, "webhook_url": URL,
                              "webhook_events": ["payment.confirmed"], "has_secret": True}
    assert stack.outputs() == {"integrator_id": SANDBOX_INTEGRATOR_ID, "url": URL,
                               "events": ["payment.confirmed"], "original_url": LEGACY["webhook_url"]}
    assert changes(stack.preview()) == {}

    # Every argument changes in place; [] (all events) never diffs against the read.
    mark = stack.last_seq()
    stack.set_program(program(url=f"{URL}/v2", events=[], secret="whsec_e2e_kotani_02"))
    assert changes(stack.up()) == {"update": 1}
    assert stack.write_calls(mark, "kotanipay") == [PATCH]
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, "webhook_url": f"{URL}/v2", "webhook_events": [],
                              "has_secret": True}
    delivered_with(stack, "whsec_e2e_kotani_02")
    stack.set_program(program(url=f"{URL}/v2", events=None, secret="whsec_e2e_kotani_02"))
    assert changes(stack.preview()) == {}
    assert changes(stack.refresh()) == {}

    # A dashboard edit: refresh finds it, up puts the declaration back.
    stack.edit("kotanipay", SANDBOX_INTEGRATOR_ID,
               {"webhook_url": "https://dashboard.example.com/k", "webhook_events": ["kyc.status.changed"]})
    assert changes(stack.refresh()) == {"update": 1}
    (refreshed,) = stack.resources("kotanipay:IntegratorWebhook")
    assert refreshed["outputs"]["url"] == "https://dashboard.example.com/k"
    assert refreshed["outputs"]["events"] == ["kyc.status.changed"]
    mark = stack.last_seq()
    assert changes(stack.up()) == {"update": 1}
    assert stack.write_calls(mark, "kotanipay") == [PATCH]
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, "webhook_url": f"{URL}/v2", "webhook_events": [],
                              "has_secret": True}

    # Neither the webhook secrets nor the API key are stored in the clear.
    (resource,) = stack.resources("kotanipay:IntegratorWebhook")
    assert SECRET_SIG in resource["outputs"]["secret"] and SECRET_SIG in resource["inputs"]["secret"]
    assert_no_plaintext(stack, [SANDBOX_API_KEY, SANDBOX_API_SECRET, "whsec_e2e_kotani_01", "whsec_e2e_kotani_02"])
    assert SANDBOX_API_KEY not in json.dumps(stack.journal())

    # Destroy puts back what up found (the old secret cannot be known: the last one stays).
    mark = stack.last_seq()
    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.write_calls(mark, "kotanipay") == [PATCH]
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, **LEGACY, "has_secret": True}
    assert stack.resources() == []


def test_fresh_integrator_dashboard_removal_and_destroy_leaves_it(engine_stack: StackFactory) -> None:
    stack = engine_stack(program(events=["transaction.status.updated", "payment.confirmed"]))
    assert changes(stack.up()) == {"create": 2}
    assert "deprecated" in "\n".join(stack.output)
    assert setting(stack) is not None

    # Removed in the dashboard: refresh drops it, up applies it again.
    stack.remove("kotanipay", SANDBOX_INTEGRATOR_ID)
    assert changes(stack.refresh()) == {"delete": 1}
    assert stack.resources("kotanipay:IntegratorWebhook") == []
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 1}
    assert stack.write_calls(mark, "kotanipay") == [PATCH]
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, "webhook_url": URL,
                              "webhook_events": ["payment.confirmed", "transaction.status.updated"],
                              "has_secret": True}

    # Nothing was set before, and no call can narrow delivery ([] is every event, an empty
    # URL is refused): destroy writes nothing and the setting stays.
    mark = stack.last_seq()
    assert changes(stack.destroy()) == {"delete": 2}
    assert stack.write_calls(mark, "kotanipay") == []
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, "webhook_url": URL,
                              "webhook_events": ["payment.confirmed", "transaction.status.updated"],
                              "has_secret": True}
    assert stack.resources() == []


def test_a_rename_keeps_the_setting(engine_stack: StackFactory) -> None:
    stack = engine_stack(program())
    assert changes(stack.up()) == {"create": 2}

    # A new name without an alias: the new resource is created, then the old one deleted;
    # the old one finds its setting taken over and leaves it.
    stack.set_program(program(name="kotani-renamed"))
    mark = stack.last_seq()
    assert changes(stack.up()) == {"create": 1, "delete": 1}
    assert stack.write_calls(mark, "kotanipay") == [PATCH]  # the new one's create only
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, "webhook_url": URL,
                              "webhook_events": ["payment.confirmed"], "has_secret": True}
    assert stack.outputs()["original_url"] == URL  # what the new one took over
    delivered_with(stack, "whsec_e2e_kotani_01")


def test_an_account_with_request_signing(engine_stack: StackFactory) -> None:
    stack = engine_stack(program(url=LEGACY["webhook_url"], events=LEGACY["webhook_events"]))
    stack.edit("kotanipay", SANDBOX_INTEGRATOR_ID, {**LEGACY, "is_secure": True})
    assert changes(stack.up()) == {"create": 2}
    assert all((e["status"] or 0) < 400 for e in stack.journal(provider="kotanipay"))
    assert changes(stack.refresh()) == {}
    assert changes(stack.destroy()) == {"delete": 2}
    assert setting(stack) == {"id": SANDBOX_INTEGRATOR_ID, **LEGACY, "has_secret": True}
