"""Declarations that can never work fail at preview, before any call: one webhook adopted
twice, delivery URLs that leak a password or point nowhere, non-boolean flags, and more
PhonePe webhooks than an account holds; and the way back from PhonePe's cap."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.automation.errors import CommandError

from pulumi_webhooks import phonepe, safepay, spritz, velafi

from .conftest import StackFactory
from .harness import changes

RECEIVER = "https://hooks.example.com"


def failed_preview(stack_factory: StackFactory, program: object, **kwargs: object) -> str:
    return stack_factory(program, **kwargs).failed_preview()


def test_two_resources_adopting_one_webhook_fail_at_preview(engine_stack: StackFactory) -> None:
    owner = engine_stack(lambda: pulumi.export(
        "id", velafi.Webhook("made", event_type="ORDER_WEBHOOK", url=f"{RECEIVER}/v").webhook_id), name="owner")
    owner.up()
    webhook_id = owner.outputs()["id"]

    def program() -> None:
        velafi.Webhook("first", event_type="ORDER_WEBHOOK", url=f"{RECEIVER}/v", webhook_id=webhook_id)
        velafi.Webhook("second", event_type="ORDER_WEBHOOK", url=f"{RECEIVER}/w", webhook_id=webhook_id)

    message = failed_preview(engine_stack, program, name="adopters")
    assert f"velafi.Webhook 'second': webhook_id '{webhook_id}' is already adopted by 'first'" in message
    assert owner.only_webhook("velafi")["url"] == f"{RECEIVER}/v"


def test_a_delivery_url_with_a_password_fails_at_preview_without_showing_it(engine_stack: StackFactory) -> None:
    message = failed_preview(engine_stack, lambda: spritz.IntegratorWebhook(
        "hook", url="https://ops:hunter2pass@hooks.example.com/s", events=["payment.completed"]))
    assert "url: must not carry a user name or password" in message
    assert "hunter2pass" not in message


def test_a_loopback_target_fails_at_preview_for_a_provider_on_the_internet(engine_stack: StackFactory) -> None:
    # Production settings and no base URL: the check alone decides, and nothing is called.
    message = failed_preview(
        engine_stack,
        lambda: velafi.Webhook("hook", event_type="ORDER_WEBHOOK", url="https://127.0.0.1:8443/hook"),
        config={"velafi:environment": "production", "velafi:apiKey": "k", "velafi:apiSecret": "s"},
    )
    assert "property url" in message and "names '127.0.0.1', which only this machine can reach" in message
    assert "api.velafi.com delivers over the internet" in message


@pytest.mark.parametrize("provider", ["velafi", "safepay", "phonepe"])
def test_a_flag_given_as_a_string_fails_at_preview(engine_stack: StackFactory, provider: str) -> None:
    def program() -> None:
        if provider == "velafi":
            velafi.Webhook("hook", event_type="ORDER_WEBHOOK", url=f"{RECEIVER}/v", enabled="false")  # type: ignore[arg-type]
        elif provider == "safepay":
            safepay.RaastWebhook("hook", url=f"{RECEIVER}/s", event_types=["payment.completed"],
                                 enabled="false")  # type: ignore[arg-type]
        else:
            phonepe.Webhook("hook", url=f"{RECEIVER}/p", events=["pg.order.completed"], username="flags01",
                            password="Flags01pass", enabled="false")  # type: ignore[arg-type]

    message = failed_preview(engine_stack, program)
    assert "must be true or false, got 'false'" in message


def phonepe_hooks(names: list[str]) -> None:
    for name in names:
        phonepe.Webhook(name, url=f"{RECEIVER}/{name}", events=["pg.order.completed"], username="capped01",
                        password="Capped01pass")


def test_more_phonepe_webhooks_than_an_account_holds_fail_at_preview_and_the_way_back(
    engine_stack: StackFactory,
) -> None:
    names = [f"hook-{i:02}" for i in range(phonepe.MAX_WEBHOOKS + 1)]
    for _ in range(2):  # the same declaration is named every time
        message = failed_preview(engine_stack, lambda: phonepe_hooks(names))
        assert "phonepe.Webhook 'hook-30': this program declares 31" in message

    stack = engine_stack(lambda: phonepe_hooks(names[:30]))
    stack.up()
    assert len(stack.webhooks("phonepe")) == 30
    # Swap one: Pulumi creates the new one before deleting the old, and the account is full.
    swapped = [*names[:29], "hook-new"]
    stack.set_program(lambda: phonepe_hooks(swapped))
    with pytest.raises(CommandError) as failed:
        stack.up()
    assert "pulumi destroy --target" in str(failed.value)
    assert len(stack.webhooks("phonepe")) == 30
    # The way back the error names: delete the removed one first, then up.
    [old] = [r["urn"] for r in stack.resources("phonepe:Webhook") if r["urn"].endswith("::hook-29")]
    stack.destroy(target=[old])
    stack.up()
    assert sorted(h["url"].rsplit("/", 1)[-1] for h in stack.webhooks("phonepe")) == sorted(swapped)
    assert changes(stack.preview()) == {}
