"""N webhooks spread over the five providers, or N no-op dynamic resources.

Config: ``bench:kind`` (webhooks | shaped | imports | noop), ``bench:count``, ``bench:generation``
(bumped to make every webhook change in place). ``shaped`` declares the resources of
``shape.json`` beside this program (see benchmarks/shaped.py); ``imports`` the same
resources with the package imported (benchmarks/shaped_imports.py).
"""

import json
from pathlib import Path

import pulumi

config = pulumi.Config("bench")
kind = config.require("kind")
count = config.require_int("count")
generation = config.get("generation") or "1"


def spread(n: int) -> dict[str, int]:
    """Kotani Pay is one setting per account and PhonePe allows 30 webhooks;
    the rest is shared evenly by the others."""
    shares = {"kotanipay": 1, "phonepe": 0, "velafi": 0, "safepay": 0, "spritz": 0}
    rest = n - 1
    for i in range(rest):
        name = ("phonepe", "velafi", "safepay", "spritz")[i % 4]
        if name == "phonepe" and shares["phonepe"] >= 25:
            name = "velafi"
        shares[name] += 1
    return shares


if kind == "noop":
    from tests.noop import Noop

    for i in range(count):
        Noop(f"noop-{i}", value=generation)
elif kind in ("shaped", "imports"):
    # Only pulumi.dynamic is imported: the floor for resources of exactly this shape;
    # "imports" adds the package's imports, in this program and in the provider host.
    if kind == "shaped":
        from benchmarks.shaped import Shaped
    else:
        from benchmarks.shaped_imports import ImportingShaped as Shaped

    shape_path = str(Path("shape.json").resolve())
    shapes = json.loads(Path(shape_path).read_text())
    for name, entries in shapes["resources"].items():
        entry = next((e for e in entries if e["generation"] == generation), entries[-1])
        Shaped(name, path=shape_path, entry=entry)
else:
    from pulumi_webhooks import kotanipay, phonepe, safepay, spritz, velafi

    shares = spread(count)
    base = f"https://hooks.example.com/{generation}"
    for i in range(shares["kotanipay"]):
        kotanipay.IntegratorWebhook(f"kotani-{i}", url=f"{base}/kotani", events=[], secret="whsec_bench_0001")
    for i in range(shares["phonepe"]):
        phonepe.Webhook(
            f"phonepe-{i}", url=f"{base}/phonepe/{i}", events=["pg.order.completed"],
            username=f"bench{i:03d}x", password="Bench12345", description=f"bench {i}",
        )
    for i in range(shares["velafi"]):
        velafi.Webhook(f"velafi-{i}", event_type="ORDER_WEBHOOK", url=f"{base}/velafi/{i}")
    for i in range(shares["safepay"]):
        safepay.RaastWebhook(
            f"safepay-{i}", url=f"{base}/safepay/{i}", event_types=["payment.completed"],
            description=f"bench {i}",
        )
    for i in range(shares["spritz"]):
        spritz.IntegratorWebhook(f"spritz-{i}", url=f"https://hooks.example.com/spritz/{i}",
                                 events=["payment.completed"] if generation == "1" else ["payment.created"])
