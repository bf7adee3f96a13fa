"""One receiver, every provider: the order-completion events of all five, per environment."""

import pulumi

from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi

config = pulumi.Config()
receiver = config.get("receiver") or f"https://hooks.example.com/{pulumi.get_stack()}"

kotanipay.IntegratorWebhook("kotani", url=f"{receiver}/kotanipay", events=["payment.confirmed"],
                            secret=config.require_secret("kotaniSecret"))
velafi.Webhook("velafi", event_type="ORDER_WEBHOOK", url=f"{receiver}/velafi")
raast = safepay.RaastWebhook("safepay", url=f"{receiver}/safepay", event_types=["payment.completed"])
secret = spritz.WebhookSecret("spritz-secret", secret=config.require_secret("spritzSecret"))
spritz.IntegratorWebhook("spritz", url=f"{receiver}/spritz", events=["payment.completed"],
                         opts=pulumi.ResourceOptions(depends_on=[secret]))
phonepe.Webhook("phonepe", url=f"{receiver}/phonepe", events=["pg.order.completed", "checkout.order.completed"],
                username="orders01", password=config.require_secret("phonepePassword"))

pulumi.export("safepay_secret_version", raast.secret_version)
