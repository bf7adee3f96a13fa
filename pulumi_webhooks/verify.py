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
import json
import time
from collections.abc import Mapping
from datetime import datetime

from ._errors import SignatureError

__all__ = ["SignatureError", "kotanipay", "phonepe", "safepay", "spritz", "velafi"]


def _header(headers: Mapping[str, str], name: str, provider: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            value = value.strip()
            if value:
                return value
            break
    raise SignatureError(f"{provider}: missing {name} header")


def _raw_body(body: object, provider: str) -> bytes:
    # A decoded or re-serialised body would not be what the provider signed.
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise SignatureError(
        f"{provider}: body must be the raw request bytes as received (got {type(body).__name__}); "
        "read it before any JSON parsing, e.g. await request.body()"
    )


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
    """``X-Kotani-Signature: sha256=<hex HMAC-SHA256(secret, JSON.stringify(payload))>``.

    Kotani delivers ``{event, data, signature}`` and signs the payload *without* its
    ``signature`` field, serialised as JavaScript's ``JSON.stringify`` does: not the raw
    body. So the body is parsed, ``signature`` dropped and the rest re-serialised (keys in
    received order, no whitespace, non-ASCII as UTF-8, numbers exactly as received). The
    ``signature`` copy inside the body is not signed by anything, so only the header counts.
    """
    provider = "Kotani Pay"
    body = _raw_body(body, provider)
    received = _strip_scheme(_header(headers, "X-Kotani-Signature", provider), "sha256", provider,
                             "X-Kotani-Signature")
    payload = _js_signed_payload(body, provider)
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    _hex_digest_matches(expected, received, provider, "X-Kotani-Signature")


class _JsNumber(str):
    """A JSON number kept as its received lexeme: converting to float would turn ``1.50``
    into ``1.5`` and change the bytes that were signed."""


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _js_signed_payload(body: bytes, provider: str) -> bytes:
    """The bytes Kotani signs: the delivered object without ``signature``, as ``JSON.stringify``."""
    try:
        parsed = json.loads(
            body.decode("utf-8"),
            parse_int=_JsNumber,
            parse_float=_JsNumber,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError):
        raise SignatureError(f"{provider}: body is not UTF-8 JSON, so its signature cannot be checked") from None
    if not isinstance(parsed, dict):
        raise SignatureError(f"{provider}: body must be a JSON object ({{event, data, signature}})")
    parsed.pop("signature", None)
    return _js_stringify(parsed).encode("utf-8")


_JS_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _JS_ESCAPES:
            out.append(_JS_ESCAPES[char])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            # Control characters, and surrogates left unpaired by the parser, as JS writes them.
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)  # "/", U+2028 and U+2029 included: JSON.stringify keeps them raw
    out.append('"')
    return "".join(out)


def _is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def _js_stringify(value: object) -> str:
    """``JSON.stringify`` of a parsed value: compact, JS string escapes, raw number lexemes."""
    if isinstance(value, _JsNumber):
        return str.__str__(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(_js_stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        # A JS object lists array-index keys first, ascending, then the rest in insertion order.
        keys = list(value)
        ordered = sorted((k for k in keys if _is_array_index(k)), key=int)
        ordered += [k for k in keys if not _is_array_index(k)]
        return "{" + ",".join(f"{_js_string(k)}:{_js_stringify(value[k])}" for k in ordered) + "}"
    raise TypeError(f"not a parsed JSON value: {type(value).__name__}")


def spritz(headers: Mapping[str, str], body: bytes, *, secret: str) -> None:
    """``Signature: <hex HMAC-SHA256(secret, body)>`` (Spritz sends none when no secret is set)."""
    provider = "Spritz"
    if not isinstance(secret, str) or not secret:
        # An unset secret read as "" would accept anything signed with the empty key.
        raise ValueError(f"{provider}: secret must be the webhook secret set at Spritz (a non-empty string)")
    body = _raw_body(body, provider)
    try:
        received = _header(headers, "Signature", provider)
    except SignatureError:
        raise SignatureError(
            f"{provider}: missing Signature header (Spritz signs deliveries only once a webhook secret is set)"
        ) from None
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    _hex_digest_matches(expected, received, provider, "Signature")


def phonepe(headers: Mapping[str, str], body: bytes, *, username: str, password: str) -> None:
    """``Authorization: <hex SHA256("username:password")>``; the body is not signed."""
    _raw_body(body, "PhonePe")
    received = _header(headers, "Authorization", "PhonePe")
    if " " in received:  # tolerate a scheme word in front of the digest
        received = received.rsplit(" ", 1)[-1]
    expected = hashlib.sha256(f"{username}:{password}".encode()).digest()
    _hex_digest_matches(expected, received, "PhonePe", "Authorization")


def safepay(
    headers: Mapping[str, str], body: bytes, *, secret: str, tolerance: float | None = 300
) -> None:
    """``X-SFPY-SIGNATURE: sha256=<hex HMAC-SHA256(base64decode(secret), timestamp + "." + body)>``.

    ``X-SFPY-TIMESTAMP`` (RFC 3339) must be within ``tolerance`` seconds of now,
    so a captured delivery cannot be replayed later. ``tolerance=0`` or ``None``
    skips that age check, as Safepay's reference verifier allows; the timestamp
    header is still required, since it is part of what is signed.
    """
    provider = "Safepay"
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not tolerance >= 0
    ):
        # ``not >= 0`` also refuses NaN, which would let every timestamp pass.
        raise ValueError(f"{provider}: tolerance must be a number of seconds >= 0 (0 or None: no age check), "
                         f"got {tolerance!r}")
    body = _raw_body(body, provider)
    received = _strip_scheme(_header(headers, "X-SFPY-SIGNATURE", provider), "sha256", provider,
                             "X-SFPY-SIGNATURE")
    stamp = _header(headers, "X-SFPY-TIMESTAMP", provider)
    if tolerance:
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
    body = _raw_body(body, provider)
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
