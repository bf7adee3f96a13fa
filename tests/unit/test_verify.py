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
# PhonePe's own example (its .NET SDK's callback validation page): username "username", password "password"
PHONEPE_DOC_AUTH = "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"
# printf '%s' merchant_01:password456 | openssl dgst -sha256  (a username the dashboard allows)
PHONEPE_UNDERSCORE_AUTH = "e2a979e60bf6ffc36ef50b04b9c6a3e5366f907cb3a89e79fc99734fe9d335e0"

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


def test_phonepe_documented_vector_and_digest_input() -> None:
    callback = b'{"event":"pg.order.completed","payload":{"orderId":"OMOxx","state":"COMPLETED"}}'
    verify.phonepe({"Authorization": PHONEPE_DOC_AUTH}, callback, username="username", password="password")
    verify.phonepe({"Authorization": PHONEPE_UNDERSCORE_AUTH}, callback, username="merchant_01",
                   password="password456")
    # The digest covers "username:password" only: any body passes, the order and the colon matter.
    verify.phonepe({"Authorization": PHONEPE_AUTH}, b"", username="username", password="password456")
    for username, password in (("password456", "username"), ("username:", "password456"),
                               ("usernam", "epassword456")):
        with pytest.raises(SignatureError, match="does not match"):
            verify.phonepe({"Authorization": PHONEPE_AUTH}, b"{}", username=username, password=password)
    with pytest.raises(SignatureError, match="not a hex digest"):
        verify.phonepe({"Authorization": "Basic dXNlcm5hbWU6cGFzc3dvcmQ0NTY="}, b"{}", username="username",
                       password="password456")


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


# A fixed key pair and signature made once with openssl (VelaFi: header `signature` = hex RSA-SHA256):
#   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem
#   printf '%s' "$VELAFI_BODY" > body.txt
#   openssl dgst -sha256 -sign key.pem -hex body.txt          # VELAFI_SIGNATURE
#   openssl pkey -in key.pem -pubout -outform DER | base64 -w0  # VELAFI_PUBLIC_KEY
VELAFI_BODY = (b'{"webhookId":"ebab8a9663704e7cbbebe672c7c67912","eventType":"ORDER_WEBHOOK",'
               b'"orderId":"473130522693193728","orderStatus":"60"}')
VELAFI_PUBLIC_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqHuCL9dXe5MzxhOSgk/zzkkx2FAc3mbicVo6JIybqYokwDFLhUKlSttGUMZJ"
    "DJ58ZA48146NVHfohWrovyq1StUHpYEbFIaGQlweWg2ygplC6gqtZ2nGvNctX6TgIbOSeMI2j87vMEiqAdRAI0MUYF03y8QbKOCVvN3D"
    "XPXQq8QSs+EJM5vd/4BtE67V4VwnpLBdtpE6yWNPJ2eee0BZaM5VjGlnRH/olN9c27bYuS47mztADljJlwi/1U6lTmzLuWdNJ1mh8oGu"
    "+fSKbEt09bSlfesRG+2yI6c84SFfvVgNYLnpox7H2zLE2NmLjgJ/JHCrtlEjyL91FfHKg4T10wIDAQAB"
)
VELAFI_SIGNATURE = (
    "8468151321343e823379c94164a17d5def71ef77e16383e20ecfff6c59391e00f56372a42a2e1708d153fd4c7a83d5d45b324485f2"
    "87acbf453e62e2b027a711306694c99f8e58b7fede7bc36d095b0ce1103e06b0542cbdfec97c19fedcda7bc52ce7c7ed6caad44ac7"
    "6796c01b6c0fd5ef8acf3b19acccc4ca701ada97f0ed15781d46ae23eed3ad6521f0d903f1629afa2712be1ed863cd883020a4356e"
    "2bd45b5a0c00fe170b06011b57315261f040e90e56fa8779c05f1051ff16ede98065d96175f3da5bd234f3e345e53d77c47c297696"
    "0577929df98b8a833d243a9a32c4c5b160dc518ce77feead2e29de4eb91fa0ef0e513f51610d4b4794060b27"
)


def test_velafi_rsa() -> None:
    verify.velafi({"signature": VELAFI_SIGNATURE}, VELAFI_BODY, public_key=VELAFI_PUBLIC_KEY)
    verify.velafi({"Signature": VELAFI_SIGNATURE.upper()}, VELAFI_BODY, public_key=VELAFI_PUBLIC_KEY)
    with pytest.raises(SignatureError, match="does not match"):
        verify.velafi({"signature": VELAFI_SIGNATURE}, VELAFI_BODY + b"\n", public_key=VELAFI_PUBLIC_KEY)
    with pytest.raises(SignatureError, match="does not match"):
        verify.velafi({"signature": "00" + VELAFI_SIGNATURE[2:]}, VELAFI_BODY, public_key=VELAFI_PUBLIC_KEY)
    with pytest.raises(SignatureError, match="not a base64 SPKI"):
        verify.velafi({"signature": VELAFI_SIGNATURE}, VELAFI_BODY, public_key="bm90IGEga2V5")
    with pytest.raises(SignatureError, match="missing signature"):
        verify.velafi({}, VELAFI_BODY, public_key=VELAFI_PUBLIC_KEY)
    for malformed in ("%%%", "abc", VELAFI_SIGNATURE[:2] + " " + VELAFI_SIGNATURE[2:]):
        with pytest.raises(SignatureError, match="signature header is not hex-encoded"):
            verify.velafi({"signature": malformed}, VELAFI_BODY, public_key=VELAFI_PUBLIC_KEY)


def test_velafi_refuses_a_base64_signature() -> None:
    # The same signature bytes, base64-encoded (`openssl dgst -sha256 -sign key.pem body.txt | base64 -w0`):
    # VelaFi sends hex, so a base64 header is malformed, not an alternative encoding.
    as_base64 = base64.b64encode(bytes.fromhex(VELAFI_SIGNATURE)).decode()
    assert as_base64.startswith("hGgVEyE0PoIzeclBZKF9Xe9x73fh") and as_base64.endswith("==")
    with pytest.raises(SignatureError, match="signature header is not hex-encoded"):
        verify.velafi({"signature": as_base64}, VELAFI_BODY, public_key=VELAFI_PUBLIC_KEY)
