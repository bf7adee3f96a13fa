"""Never lose track of a live webhook, never take over another's: host changes, base-URL
typos, lost and slow creates, with the real engine against loopback sandboxes."""

from __future__ import annotations

import pytest
from pulumi.automation.errors import CommandError

from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi
from pulumi_webhooks.sandbox import SandboxServer

from .conftest import StackFactory
from .harness import EngineStack, changes

WITH_IDS = ("velafi", "safepay", "spritz", "phonepe")
RECEIVER = "https://hooks.example.com"


def one_each(copies: int = 1, kotani: bool = True) -> None:
    """``copies`` identical declarations per provider (and the Kotani Pay setting)."""
    if kotani:
        kotanipay.IntegratorWebhook("kotani", url=f"{RECEIVER}/kotani", events=["payment.confirmed"],
                                    secret="whsec_kotani_safety_01")
    for i in range(copies):
        velafi.Webhook(f"velafi-{i}", event_type="ORDER_WEBHOOK", url=f"{RECEIVER}/velafi")
        safepay.RaastWebhook(f"safepay-{i}", url=f"{RECEIVER}/safepay", event_types=["payment.completed"],
                             description="same")
        spritz.IntegratorWebhook(f"spritz-{i}", url=f"{RECEIVER}/spritz", events=["payment.completed"])
        phonepe.Webhook(f"phonepe-{i}", url=f"{RECEIVER}/phonepe", events=["pg.order.completed"],
                        username="safety01", password="Safety01pass", description="same")


ID_FIELD = {"velafi": "webhookId", "safepay": "token", "spritz": "id", "phonepe": "id"}


def ids(stack: EngineStack, provider: str) -> list[str]:
    """The ids ``provider`` holds, as the sandbox's admin API lists them."""
    return sorted(str(h[ID_FIELD[provider]]) for h in stack.webhooks(provider))


def state_ids(stack: EngineStack) -> list[str]:
    return sorted(r["id"] for r in stack.resources() if not r["type"].endswith("WebhookSecret"))


def moved_config(stack: EngineStack, url: str) -> dict[str, str]:
    config = dict(stack.sandbox_config)
    for key, value in stack.sandbox_config.items():
        if key.endswith(":baseUrl"):
            config[key] = value.replace(stack.sandbox_url, url.rstrip("/"))
    return config


def test_a_new_host_replaces_and_destroy_deletes_where_each_webhook_lives(
    engine_stack: StackFactory, second_sandbox: SandboxServer
) -> None:
    stack = engine_stack(one_each)
    stack.up()
    at_a = {p: len(stack.webhooks(p)) for p in WITH_IDS}
    assert at_a == dict.fromkeys(WITH_IDS, 1)

    stack.set_config(moved_config(stack, second_sandbox.url))
    previewed = changes(stack.preview())
    assert previewed.get("replace") == 5, previewed  # four webhooks and the Kotani setting
    stack.up()
    for provider in WITH_IDS:
        assert stack.webhooks(provider) == [], f"{provider}: left live at the old host"
        held = second_sandbox.sandbox.apps[provider].webhooks()
        assert len(held) == 1, (provider, held)
    assert changes(stack.preview()) == {}

    stack.destroy()
    assert stack.resources() == []
    for provider in WITH_IDS:
        assert second_sandbox.sandbox.apps[provider].webhooks() == [], provider


def test_a_base_url_typo_never_drops_a_live_webhook(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: one_each(kotani=False))
    stack.up()
    held = state_ids(stack)
    assert len(held) == 4

    typo = dict(stack.sandbox_config)
    for key in list(typo):
        if key.endswith(":baseUrl"):
            typo[key] = typo[key] + "/v9"
    stack.set_config(typo)
    # Refresh reads each webhook where it was made: nothing is dropped.
    stack.refresh()
    assert state_ids(stack) == held
    # Up would make them at the new base URL: the 404 there names the setting, and loses nothing.
    # Every create is tried: after a failure the engine starts no new step, and one provider's
    # 404 can come back before another's create has begun.
    with pytest.raises(CommandError) as failed:
        stack.up(continue_on_error=True)
    message = str(failed.value)
    for ns, env in (("velafi", "VELAFI_BASE_URL"), ("safepay", "SAFEPAY_BASE_URL"),
                    ("spritz", "SPRITZ_BASE_URL"), ("phonepe", "PHONEPE_BASE_URL")):
        assert f"{ns}:baseUrl" in message and env in message, f"{ns}: {message}"
    assert state_ids(stack) == held
    assert all(len(stack.webhooks(p)) == 1 for p in WITH_IDS)

    stack.set_config(stack.sandbox_config)
    assert changes(stack.preview()) == {}
    stack.destroy()
    assert all(stack.webhooks(p) == [] for p in WITH_IDS)


def test_a_lost_create_never_adopts_another_stacks_webhook(engine_stack: StackFactory) -> None:
    program = lambda: one_each(kotani=False)  # noqa: E731
    prod = engine_stack(program, name="prod")
    prod.up()
    prod_ids = {p: ids(prod, p) for p in WITH_IDS}

    staging = engine_stack(program, name="staging")
    for provider in WITH_IDS:
        staging.add_fault(provider=provider, method="POST", path="webhooks?$", drop=True, after_commit=True, count=1)
    staging.up()
    staging.clear_faults()
    for provider in WITH_IDS:
        assert len(staging.webhooks(provider)) == 2, provider
    assert not set(state_ids(staging)) & set(state_ids(prod))

    staging.destroy()
    for provider in WITH_IDS:
        assert ids(prod, provider) == prod_ids[provider], f"{provider}: staging's destroy deleted prod's webhook"
    prod.destroy()


def test_identical_declarations_in_one_stack_keep_their_own_webhooks(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: one_each(copies=3, kotani=False))
    for provider in WITH_IDS:
        stack.add_fault(provider=provider, method="POST", path="webhooks?$", drop=True, after_commit=True, count=2)
    stack.up()
    stack.clear_faults()
    held = state_ids(stack)
    assert len(held) == len(set(held)) == 12, held
    for provider in WITH_IDS:
        assert len(stack.webhooks(provider)) == 3, provider
    assert changes(stack.preview()) == {}
    stack.destroy()
    assert all(stack.webhooks(p) == [] for p in WITH_IDS)


def test_a_create_that_commits_after_the_timeout_is_not_sent_again(engine_stack: StackFactory) -> None:
    stack = engine_stack(lambda: one_each(kotani=False), env={"PULUMI_WEBHOOKS_REQUEST_TIMEOUT": "1"})
    for provider in WITH_IDS:
        stack.add_fault(provider=provider, method="POST", path="webhooks?$", latency=1.5, count=1)
    stack.up()
    stack.clear_faults()
    for provider in WITH_IDS:
        assert len(stack.webhooks(provider)) == 1, f"{provider}: the slow create was sent again"
    assert changes(stack.preview()) == {}
    stack.destroy()

