"""Verify webhook deliveries in your receiver, exactly as each provider signs them.

Every function takes the received headers (any mapping; names are matched
case-insensitively) and the raw body bytes as received, returns None when the
request is authentic and raises :class:`SignatureError` otherwise. Digests are
compared in constant time.

    from pulumi_webhooks import verify

    verify.spritz(request.headers, await request.body(), secret=SPRITZ_SECRET)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime

from ._errors import WebhookError

__all__ = ["SignatureError", "kotanipay", "phonepe", "safepay", "spritz", "velafi"]


class SignatureError(WebhookError):
    """The delivery is not authentic: a header is missing, malformed or does not match."""


def _header(headers: Mapping[str, str], name: str, provider: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            value = value.strip()
            if value:
                return value
            break
    raise SignatureError(f"{provider}: missing {name} header")


def _hex_digest_matches(expected: bytes, received: str, provider: str, header: str) -> None:
    try:
        received_bytes = bytes.fromhex(received)
    except ValueError:
        raise SignatureError(f"{provider}: {header} is not a hex digest") from None
    if not hmac.compare_digest(expected, received_bytes):
        raise SignatureError(f"{provider}: {header} does not match the body")


def _strip_scheme(value: str, scheme: str, provider: str, header: str) -> str:
    prefix = f"{scheme}="
    if not value.lower().startswith(prefix):
        raise SignatureError(f"{provider}: {header} must start with {prefix!r}")
    return value[len(prefix):]


def kotanipay(headers: Mapping[str, str], body: bytes, *, secret: str) -> None:
    """``X-Kotani-Signature: sha256=<hex HMAC-SHA256(secret, body)>``."""
    received = _strip_scheme(_header(headers, "X-Kotani-Signature", "Kotani Pay"), "sha256", "Kotani Pay",
                             "X-Kotani-Signature")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    _hex_digest_matches(expected, received, "Kotani Pay", "X-Kotani-Signature")


def spritz(headers: Mapping[str, str], body: bytes, *, secret: str) -> None:
    """``Signature: <hex HMAC-SHA256(secret, body)>`` (Spritz sends none when no secret is set)."""
    received = _header(headers, "Signature", "Spritz")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    _hex_digest_matches(expected, received, "Spritz", "Signature")


def phonepe(headers: Mapping[str, str], body: bytes, *, username: str, password: str) -> None:
    """``Authorization: <hex SHA256("username:password")>``; the body is not signed."""
    received = _header(headers, "Authorization", "PhonePe")
    if " " in received:  # tolerate a scheme word in front of the digest
        received = received.rsplit(" ", 1)[-1]
    expected = hashlib.sha256(f"{username}:{password}".encode()).digest()
    _hex_digest_matches(expected, received, "PhonePe", "Authorization")


def safepay(
    headers: Mapping[str, str], body: bytes, *, secret: str, tolerance: float = 300
) -> None:
    """``X-SFPY-SIGNATURE: sha256=<hex HMAC-SHA256(base64decode(secret), timestamp + "." + body)>``.

    ``X-SFPY-TIMESTAMP`` (RFC 3339) must be within ``tolerance`` seconds of now,
    so a captured delivery cannot be replayed later.
    """
    provider = "Safepay"
    received = _strip_scheme(_header(headers, "X-SFPY-SIGNATURE", provider), "sha256", provider,
                             "X-SFPY-SIGNATURE")
    stamp = _header(headers, "X-SFPY-TIMESTAMP", provider)
    try:
        sent = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError(f"{provider}: X-SFPY-TIMESTAMP is not an RFC 3339 time") from None
    if sent.tzinfo is None:
        raise SignatureError(f"{provider}: X-SFPY-TIMESTAMP has no time zone")
    if abs(time.time() - sent.timestamp()) > tolerance:
        raise SignatureError(f"{provider}: X-SFPY-TIMESTAMP is outside the {tolerance:g}s replay window")
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{provider}: the webhook secret is not base64") from None
    expected = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).digest()
    _hex_digest_matches(expected, received, provider, "X-SFPY-SIGNATURE")


def velafi(headers: Mapping[str, str], body: bytes, *, public_key: str) -> None:
    """``signature: <hex RSA-SHA256 (PKCS#1 v1.5) signature of the body>``, checked with the
    webhook's ``public_key`` (base64 SPKI, the resource's ``public_key`` output). VelaFi
    documents the header as hexadecimal; either letter case is accepted. Needs
    ``cryptography`` (``pip install 'pulumi-webhooks[verify]'``).

    Answer the push with ``{"callbackStatus": "SUCCESS"}`` (``"FAIL"`` when this raises)."""
    provider = "VelaFi"
    received = _header(headers, "signature", provider)
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - depends on the environment
        raise SignatureError(
            "VelaFi signatures need the 'cryptography' package: pip install 'pulumi-webhooks[verify]'"
        ) from None
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key))
    except (binascii.Error, ValueError):
        raise SignatureError(f"{provider}: public_key is not a base64 SPKI RSA key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError(f"{provider}: public_key is not an RSA key")
    try:
        # isalnum() first: bytes.fromhex alone would let spaces between the digits through.
        if not (received.isascii() and received.isalnum()):
            raise ValueError
        signature = bytes.fromhex(received)
    except ValueError:
        raise SignatureError(f"{provider}: signature header is not hex-encoded") from None
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError(f"{provider}: signature does not match the body") from None
