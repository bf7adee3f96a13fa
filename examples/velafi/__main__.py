"""VelaFi: order and funding pushes, each to its own receiver."""

import pulumi

from pulumi_webhooks import velafi

orders = velafi.Webhook("orders", event_type="ORDER_WEBHOOK", url="https://hooks.example.com/velafi/orders")
funding = velafi.Webhook(
    "funding",
    event_type="FUNDING_WEBHOOK",
    url="https://hooks.example.com/velafi/funding",
    enabled=pulumi.Config().get_bool("fundingEnabled") is not False,
)

pulumi.export("orders_webhook_id", orders.webhook_id)
# Receivers verify pushes with this key: pulumi_webhooks.verify.velafi(headers, body, public_key=...)
pulumi.export("orders_public_key", orders.public_key)
