"""Delivery verification against vectors computed outside Python (openssl), per provider docs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from pulumi_webhooks import verify
from pulumi_webhooks.verify import SignatureError

# printf '%s' BODY | openssl dgst -sha256 -hmac whsec_1234567890abcdef
KOTANI_BODY = b'{"event":"payment.confirmed","data":{"id":"tx_1"}}'
KOTANI_SIG = "c7c92c7f63fe6a2521ddfd69e4d07b0c060a344fe32ffe91daf985ee8d2b639f"

# printf '%s' BODY | openssl dgst -sha256 -hmac spritz-secret-01
SPRITZ_BODY = b'{"type":"payment.completed","data":{"id":"pay_1"}}'
SPRITZ_SIG = "8e7b01ed0da5ce172990146707007204889a0144065b3d83ff409db956d8bbee"

# printf '%s' username:password456 | openssl dgst -sha256  (the seed's sample credentials)
PHONEPE_AUTH = "e5ea5293113a3c2391ff7316349af884d8a909b158355758bc2c95ef7d95e3ac"

# the secret from Safepay's sample endpoint; HMAC keyed with its base64-decoded bytes
SAFEPAY_SECRET = "9sU3KVM5iQYZsxt40st1nkJsvbyuLnquB3Re1Q7k08w="
SAFEPAY_STAMP = "2025-12-02T12:48:35Z"
SAFEPAY_BODY = b'{"event":"payment.created"}'
SAFEPAY_SIG = "8b3a6339e845755d9fc11a92130e316b00245a5b35e21bf4f5bb3c59b58c13b1"


def test_kotanipay() -> None:
    verify.kotanipay({"x-kotani-signature": f"sha256={KOTANI_SIG}"}, KOTANI_BODY, secret="whsec_1234567890abcdef")
    with pytest.raises(SignatureError, match="does not match"):
        verify.kotanipay(
            {"X-Kotani-Signature": f"sha256={KOTANI_SIG}"}, KOTANI_BODY + b" ", secret="whsec_1234567890abcdef"
        )
    with pytest.raises(SignatureError, match="missing X-Kotani-Signature"):
        verify.kotanipay({}, KOTANI_BODY, secret="s")
    with pytest.raises(SignatureError, match="must start with 'sha256='"):
        verify.kotanipay({"X-Kotani-Signature": KOTANI_SIG}, KOTANI_BODY, secret="s")


def test_spritz() -> None:
    verify.spritz({"SIGNATURE": SPRITZ_SIG}, SPRITZ_BODY, secret="spritz-secret-01")
    with pytest.raises(SignatureError, match="does not match"):
        verify.spritz({"Signature": SPRITZ_SIG}, SPRITZ_BODY, secret="another-secret")
    with pytest.raises(SignatureError, match="not a hex digest"):
        verify.spritz({"Signature": "zz"}, SPRITZ_BODY, secret="spritz-secret-01")


def test_phonepe() -> None:
    verify.phonepe({"Authorization": PHONEPE_AUTH}, b"{}", username="username", password="password456")
    verify.phonepe({"authorization": f"SHA256 {PHONEPE_AUTH.upper()}"}, b"{}", username="username",
                   password="password456")
    with pytest.raises(SignatureError, match="does not match"):
        verify.phonepe({"Authorization": PHONEPE_AUTH}, b"{}", username="username", password="password457")
    with pytest.raises(SignatureError, match="missing Authorization"):
        verify.phonepe({"Authorization": " "}, b"{}", username="u", password="p")


def test_safepay_signature_and_replay_window(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = datetime(2025, 12, 2, 12, 48, 35, tzinfo=UTC).timestamp()
    headers = {"X-SFPY-SIGNATURE": f"sha256={SAFEPAY_SIG}", "X-SFPY-TIMESTAMP": SAFEPAY_STAMP}
    monkeypatch.setattr(verify.time, "time", lambda: sent + 120)
    verify.safepay(headers, SAFEPAY_BODY, secret=SAFEPAY_SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        verify.safepay(headers, SAFEPAY_BODY.replace(b"created", b"settled"), secret=SAFEPAY_SECRET)
    with pytest.raises(SignatureError, match="replay window"):
        verify.safepay(headers, SAFEPAY_BODY, secret=SAFEPAY_SECRET, tolerance=60)
    monkeypatch.setattr(verify.time, "time", lambda: sent + 301)
    with pytest.raises(SignatureError, match="replay window"):
        verify.safepay(headers, SAFEPAY_BODY, secret=SAFEPAY_SECRET)
    with pytest.raises(SignatureError, match="not an RFC 3339 time"):
        verify.safepay({**headers, "X-SFPY-TIMESTAMP": "yesterday"}, SAFEPAY_BODY, secret=SAFEPAY_SECRET)
    with pytest.raises(SignatureError, match="not base64"):
        monkeypatch.setattr(verify.time, "time", lambda: sent)
        verify.safepay(headers, SAFEPAY_BODY, secret="***not base64***")


def test_velafi_rsa() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    body = b'{"eventType":"ORDER_WEBHOOK","data":{"orderId":"o1"}}'
    signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    verify.velafi({"signature": signature}, body, public_key=public_key)
    with pytest.raises(SignatureError, match="does not match"):
        verify.velafi({"signature": signature}, body + b"\n", public_key=public_key)
    with pytest.raises(SignatureError, match="not a base64 SPKI"):
        verify.velafi({"signature": signature}, body, public_key="bm90IGEga2V5")
    with pytest.raises(SignatureError, match="not base64"):
        verify.velafi({"signature": "%%%"}, body, public_key=public_key)
