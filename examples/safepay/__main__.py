"""Safepay Raast Wire: payment and refund events; bump `rotation` to rotate the signing secret."""

import pulumi

from pulumi_webhooks import safepay

config = pulumi.Config()

payments = safepay.RaastWebhook(
    "payments",
    url="https://hooks.example.com/safepay",
    event_types=["payment.completed", "payment.failed", "refund.completed", "refund.failed"],
    description="Raast payments",
    rotation=config.get("rotation"),
)

pulumi.export("webhook_id", payments.webhook_id)
pulumi.export("secret_version", payments.secret_version)
# A Pulumi secret: `pulumi stack output signing_secret --show-secrets` to hand it to the receiver.
pulumi.export("signing_secret", payments.secret)
