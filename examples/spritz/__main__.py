"""Spritz: the integrator's signing secret, then a webhook for payment events."""

import pulumi

from pulumi_webhooks import spritz

config = pulumi.Config()

signing = spritz.WebhookSecret("signing", secret=config.require_secret("signingSecret"))
payments = spritz.IntegratorWebhook(
    "payments",
    url="https://hooks.example.com/spritz",
    events=["payment.created", "payment.completed", "payment.refunded"],
    opts=pulumi.ResourceOptions(depends_on=[signing]),
)

pulumi.export("webhook_id", payments.webhook_id)
pulumi.export("disabled", payments.disabled)
