"""Kotani Pay: the integrator's one webhook setting, for deposit and withdrawal updates."""

import pulumi

from pulumi_webhooks import kotanipay

config = pulumi.Config()

setting = kotanipay.IntegratorWebhook(
    "kotani",
    url="https://hooks.example.com/kotanipay",
    # An empty list means every event.
    events=["transaction.deposit.status.updated", "transaction.withdrawal.status.updated"],
    secret=config.require_secret("webhookSecret"),
)

pulumi.export("integrator_id", setting.integrator_id)
