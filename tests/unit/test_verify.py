"""Delivery verification against vectors computed outside Python (openssl), per provider docs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from pulumi_webhooks import verify
from pulumi_webhooks.verify import SignatureError

# printf '%s' BODY | openssl dgst -sha256 -hmac whsec_1234567890abcdef  (a compact body without the
# `signature` copy is its own JSON.stringify, so the raw-body digest is the signed one)
KOTANI_BODY = b'{"event":"payment.confirmed","data":{"id":"tx_1"}}'
KOTANI_SIG = "c7c92c7f63fe6a2521ddfd69e4d07b0c060a344fe32ffe91daf985ee8d2b639f"
KOTANI_SECRET = "whsec_1234567890abcdef"

# What Kotani's Node code signs: JSON.stringify({event, data}), written out by hand. Non-ASCII is raw
# UTF-8, `"` and control characters are escaped, "/" and U+2028 are not, numbers keep their lexemes.
KOTANI_SIGNED = (
    '{"event":"transaction.deposit.status.updated","data":{"id":"tx_\u00e9?","name":"Zoë \\"Z\\" Ñandú",'
    '"amount":1.50,"big":1e21,"tiny":1E-7,"neg":-0,"path":"a/b","sep":"\u2028","ctl":"\\n\\t\\u0001",'
    '"ok":true,"none":null,"list":[1,"二",{"z":1,"a":2}]}}'
)

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


def _kotani_sig(signed: str, secret: str = KOTANI_SECRET) -> str:
    return hmac.new(secret.encode(), signed.encode("utf-8"), hashlib.sha256).hexdigest()


def test_kotanipay() -> None:
    verify.kotanipay({"x-kotani-signature": f"sha256={KOTANI_SIG}"}, KOTANI_BODY, secret=KOTANI_SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        verify.kotanipay(
            {"X-Kotani-Signature": f"sha256={KOTANI_SIG}"}, KOTANI_BODY.replace(b"tx_1", b"tx_2"), secret=KOTANI_SECRET
        )
    with pytest.raises(SignatureError, match="does not match"):
        verify.kotanipay({"X-Kotani-Signature": f"sha256={KOTANI_SIG}"}, KOTANI_BODY, secret="another-secret")
    with pytest.raises(SignatureError, match="missing X-Kotani-Signature"):
        verify.kotanipay({}, KOTANI_BODY, secret="s")
    with pytest.raises(SignatureError, match="must start with 'sha256='"):
        verify.kotanipay({"X-Kotani-Signature": KOTANI_SIG}, KOTANI_BODY, secret="s")


def test_kotanipay_signs_the_payload_without_its_signature_field() -> None:
    sig = _kotani_sig(KOTANI_SIGNED)
    # As delivered: the signed object with the convenience copy of the signature appended.
    delivered = (KOTANI_SIGNED[:-1] + f',"signature":"sha256={sig}"}}').encode("utf-8")
    verify.kotanipay({"X-Kotani-Signature": f"sha256={sig}"}, delivered, secret=KOTANI_SECRET)
    verify.kotanipay({"X-Kotani-Signature": f"SHA256={sig.upper()}"}, delivered, secret=KOTANI_SECRET)
    # The body copy is not signed by anything: a wrong one changes nothing, the header decides.
    relabelled = (KOTANI_SIGNED[:-1] + ',"signature":"forged"}').encode("utf-8")
    verify.kotanipay({"X-Kotani-Signature": f"sha256={sig}"}, relabelled, secret=KOTANI_SECRET)
    for tampered in (
        delivered.replace(b"1.50", b"1.5"),  # same number, different lexeme: not what was signed
        delivered.replace("Zoë".encode(), b"Zoe"),
        delivered.replace(b'"ok":true', b'"ok":false'),
    ):
        with pytest.raises(SignatureError, match="X-Kotani-Signature does not match"):
            verify.kotanipay({"X-Kotani-Signature": f"sha256={sig}"}, tampered, secret=KOTANI_SECRET)


def test_kotanipay_reserialises_like_json_stringify() -> None:
    signed = '{"event":"kyc.status.changed","data":{"name":"Zoë","q":"\\"","sep":"\u2028","s":"a/b"}}'
    sig = _kotani_sig(signed)
    # Same payload, written differently: whitespace, \u escapes for non-ASCII and "/", signature first.
    delivered = (
        b'{\n  "signature" : "sha256=' + sig.encode() + b'",\n  "event": "kyc.status.changed",\n'
        b'  "data": {"name": "Zo\\u00eb", "q": "\\u0022", "sep": "\\u2028", "s": "a\\/b"}\n}\n'
    )
    verify.kotanipay({"X-Kotani-Signature": f"sha256={sig}"}, delivered, secret=KOTANI_SECRET)
    # An unpaired surrogate is escaped back (lower-case hex); a paired one becomes the raw character.
    signed = '{"event":"system.event","data":{"lone":"\\ud800","pair":"\U0001f600","ctl":"\\u001f\\b\\f\\r"}}'
    sig = _kotani_sig(signed)
    delivered = b'{"event":"system.event","data":{"lone":"\\uD800","pair":"\\ud83d\\ude00","ctl":"\\u001F\\b\\f\\r"}}'
    verify.kotanipay({"X-Kotani-Signature": f"sha256={sig}"}, delivered, secret=KOTANI_SECRET)
    # JSON.parse then JSON.stringify lists array-index keys first, ascending.
    signed = '{"event":"system.event","data":{"1":"a","10":"b","x":"c","01":"d"}}'
    sig = _kotani_sig(signed)
    delivered = b'{"event":"system.event","data":{"x":"c","10":"b","01":"d","1":"a"}}'
    verify.kotanipay({"X-Kotani-Signature": f"sha256={sig}"}, delivered, secret=KOTANI_SECRET)


def test_kotanipay_rejects_what_cannot_be_reserialised() -> None:
    header = {"X-Kotani-Signature": f"sha256={KOTANI_SIG}"}
    with pytest.raises(SignatureError, match="raw request bytes"):
        verify.kotanipay(header, KOTANI_BODY.decode(), secret=KOTANI_SECRET)  # type: ignore[arg-type]
    for body in (b"not json", b'{"event":"x","data":NaN}', b'["event"]', b'{"event":"\xff"}'):
        with pytest.raises(SignatureError, match="Kotani Pay: body"):
            verify.kotanipay(header, body, secret=KOTANI_SECRET)


def test_spritz() -> None:
    verify.spritz({"SIGNATURE": SPRITZ_SIG}, SPRITZ_BODY, secret="spritz-secret-01")
    with pytest.raises(SignatureError, match="does not match"):
        verify.spritz({"Signature": SPRITZ_SIG}, SPRITZ_BODY, secret="another-secret")
    with pytest.raises(SignatureError, match="not a hex digest"):
        verify.spritz({"Signature": "zz"}, SPRITZ_BODY, secret="spritz-secret-01")
    with pytest.raises(SignatureError, match=r"missing Signature header .*once a webhook secret is set"):
        verify.spritz({}, SPRITZ_BODY, secret="spritz-secret-01")
    with pytest.raises(SignatureError, match="does not match"):
        verify.spritz({"Signature": SPRITZ_SIG}, SPRITZ_BODY + b" ", secret="spritz-secret-01")


def test_spritz_refuses_an_empty_secret() -> None:
    # HMAC with the empty key is something anyone can compute: an unset secret must not verify.
    forged = hmac.new(b"", SPRITZ_BODY, hashlib.sha256).hexdigest()
    with pytest.raises(ValueError, match="Spritz: secret must be the webhook secret"):
        verify.spritz({"Signature": forged}, SPRITZ_BODY, secret="")


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


def _openssl_safepay_sig(stamp: str, body: bytes, secret: str = SAFEPAY_SECRET) -> str:
    # openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of base64decode(secret)>, over stamp + "." + body
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    key = base64.b64decode(secret).hex()
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{key}"],
        input=stamp.encode() + b"." + body, capture_output=True, check=True,
    )
    return done.stdout.decode().rsplit("= ", 1)[1].strip()


@pytest.mark.parametrize("tolerance", [0, None])
def test_safepay_tolerance_zero_or_none_skips_the_age_check(
    monkeypatch: pytest.MonkeyPatch, tolerance: float | None
) -> None:
    stamp = "2019-03-04T05:06:07.123456Z"  # years old: only a skipped age check lets it pass
    body = b'{"webhook_event_type":"refund.completed","amount":"250000"}'
    headers = {"X-SFPY-SIGNATURE": f"sha256={_openssl_safepay_sig(stamp, body)}", "X-SFPY-TIMESTAMP": stamp}
    with pytest.raises(SignatureError, match="replay window"):
        verify.safepay(headers, body, secret=SAFEPAY_SECRET)
    verify.safepay(headers, body, secret=SAFEPAY_SECRET, tolerance=tolerance)
    # The literal vector too, a year after it was sent.
    sent = datetime(2025, 12, 2, 12, 48, 35, tzinfo=UTC).timestamp()
    monkeypatch.setattr(verify.time, "time", lambda: sent + 365 * 86400)
    literal = {"X-SFPY-SIGNATURE": f"sha256={SAFEPAY_SIG}", "X-SFPY-TIMESTAMP": SAFEPAY_STAMP}
    verify.safepay(literal, SAFEPAY_BODY, secret=SAFEPAY_SECRET, tolerance=tolerance)
    # The timestamp is still signed: another one, or another body, does not match.
    with pytest.raises(SignatureError, match="does not match"):
        verify.safepay({**headers, "X-SFPY-TIMESTAMP": "2019-03-04T05:06:08.123456Z"}, body,
                       secret=SAFEPAY_SECRET, tolerance=tolerance)
    with pytest.raises(SignatureError, match="does not match"):
        verify.safepay(headers, body + b" ", secret=SAFEPAY_SECRET, tolerance=tolerance)
    with pytest.raises(SignatureError, match="missing X-SFPY-TIMESTAMP"):
        verify.safepay({"X-SFPY-SIGNATURE": headers["X-SFPY-SIGNATURE"]}, body, secret=SAFEPAY_SECRET,
                       tolerance=tolerance)


@pytest.mark.parametrize("tolerance", [-1, -0.5, float("nan"), "300", True])
def test_safepay_rejects_a_tolerance_that_is_not_seconds(tolerance: object) -> None:
    headers = {"X-SFPY-SIGNATURE": f"sha256={SAFEPAY_SIG}", "X-SFPY-TIMESTAMP": SAFEPAY_STAMP}
    with pytest.raises(ValueError, match="tolerance must be a number of seconds >= 0"):
        verify.safepay(headers, SAFEPAY_BODY, secret=SAFEPAY_SECRET, tolerance=tolerance)  # type: ignore[arg-type]


def test_safepay_refuses_a_decoded_body() -> None:
    headers = {"X-SFPY-SIGNATURE": f"sha256={SAFEPAY_SIG}", "X-SFPY-TIMESTAMP": SAFEPAY_STAMP}
    with pytest.raises(SignatureError, match="raw request bytes"):
        verify.safepay(headers, SAFEPAY_BODY.decode(), secret=SAFEPAY_SECRET, tolerance=0)  # type: ignore[arg-type]
    verify.safepay(headers, bytearray(SAFEPAY_BODY), secret=SAFEPAY_SECRET, tolerance=0)  # type: ignore[arg-type]


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
