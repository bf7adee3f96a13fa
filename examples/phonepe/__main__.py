"""PhonePe: refund callbacks, authenticated with a username and password."""

import pulumi

from pulumi_webhooks import phonepe

config = pulumi.Config()

refunds = phonepe.Webhook(
    "refunds",
    url="https://hooks.example.com/phonepe/refunds",
    events=["pg.refund.completed", "pg.refund.failed"],
    username="refunds01",
    password=config.require_secret("callbackPassword"),
    description="Refund callbacks",
)

pulumi.export("webhook_id", refunds.webhook_id)
