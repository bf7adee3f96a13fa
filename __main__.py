"""The example stack: one webhook per provider, as a payments team would declare them."""

import pulumi

from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi

config = pulumi.Config()
receiver = config.get("receiver") or "https://hooks.example.com"

kotani = kotanipay.IntegratorWebhook(
    "kotani",
    url=f"{receiver}/kotanipay",
    events=["transaction.deposit.status.updated", "transaction.withdrawal.status.updated"],
    secret=config.require_secret("kotaniWebhookSecret"),
)

vela = velafi.Webhook(
    "velafi-orders",
    event_type="ORDER_WEBHOOK",
    url=f"{receiver}/velafi/orders",
)

raast = safepay.RaastWebhook(
    "safepay-payments",
    url=f"{receiver}/safepay",
    event_types=["payment.completed", "payment.failed", "refund.completed"],
    description="Raast payment and refund events",
)

spritz_secret = spritz.WebhookSecret(
    "spritz-signing-secret",
    secret=config.require_secret("spritzWebhookSecret"),
)
spritz_hook = spritz.IntegratorWebhook(
    "spritz-payments",
    url=f"{receiver}/spritz",
    events=["payment.completed", "payment.refunded"],
    opts=pulumi.ResourceOptions(depends_on=[spritz_secret]),
)

refunds = phonepe.Webhook(
    "phonepe-refunds",
    url=f"{receiver}/phonepe",
    events=["pg.refund.completed", "pg.refund.failed"],
    username="payments01",
    password=config.require_secret("phonepePassword"),
    description="PhonePe refund events",
)

pulumi.export("kotani_integrator_id", kotani.integrator_id)
pulumi.export("velafi_webhook_id", vela.webhook_id)
pulumi.export("velafi_public_key", vela.public_key)
pulumi.export("safepay_webhook_id", raast.webhook_id)
pulumi.export("safepay_secret_version", raast.secret_version)
pulumi.export("spritz_webhook_id", spritz_hook.webhook_id)
pulumi.export("phonepe_webhook_id", refunds.webhook_id)
