"""VelaFi's webhook API in the sandbox, under ``/velafi``.

Speaks the documented calls with VelaFi's ``{code, msg, data}`` envelope:
token issuance (``X-BH-APIKEY`` plus an HMAC-signed timestamp), then
``X-BH-TOKEN`` on every webhook call. Requests are validated with the request
models of :mod:`pulumi_webhooks.velafi`; every signature (the token request's
HMAC, the pushes' RSA) is computed here, from VelaFi's docs, never by the
client's code. Each webhook gets its own RSA key pair; pushes are signed with
it as VelaFi signs them (header ``signature`` = the hex-encoded RSA-SHA256
PKCS#1 v1.5 signature of the raw body).

Where the docs speak, the sandbox does as they show:

- A webhook in an answer (create, list, update, the admin listing) shows
  ``"status": 1`` while it is active, as every example in VelaFi's docs does,
  although the documented enum is 10 active / 20 disabled / 30 deleted.
  Writes accept only 10 and 20, and ``GET /v2/webhooks?status=`` only 10, 20
  or 30.
- Pushes are flat JSON objects (``webhookId``, ``eventType``, then the fields
  of the documented push for that event type), not wrapped in an envelope.

Where they are silent it takes the least forgiving reading they allow:

- A disabled webhook shows 20 (no example shows one; 20 is the documented
  value), so a client meets both spellings, 1 and the enum, side by side.
- The token request's ``signature`` must be lowercase hex, as every example
  of VelaFi's produces it.
- ``ON_RAMP_WITHDRAW_WEBHOOK`` has no documented push; its sample is shaped
  like the order push with the on-chain fields of a withdrawal.
- Business errors (bad parameter, unknown webhook id, repeated submit,
  expired token) come with HTTP 200 and a negative ``code``; a missing or
  unknown token, a wrong API key, a bad signature or a stale timestamp come
  with HTTP 401.

``cryptography`` is imported only when a key pair is made or a push signed,
so the rest of the sandbox works without it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from pulumi_webhooks._fields import rule_of
from pulumi_webhooks.velafi import (
    CODE_INVALID_API_KEY,
    CODE_INVALID_SIGNATURE,
    CODE_INVALID_TIMESTAMP,
    CODE_PARAM_IS_INVALID,
    CODE_REPEATED_SUBMIT_REQUEST,
    CODE_SUCCESS,
    CODE_TOKEN_EXPIRED,
    CODE_UNAUTHORIZED,
    STATUS_ACTIVE,
    STATUS_DELETED,
    STATUS_DISABLED,
    TOKEN_PATH,
    WEBHOOK_PATH,
    WEBHOOKS_PATH,
    CreateWebhookBody,
    UpdateWebhookBody,
)

from ._app import Delivery, HTTPError, ProviderApp, Request, Response, require

__all__ = ["VelaFiApp"]

#: The header a push's signature travels in (docs: "the signature attached in the request header").
PUSH_SIGNATURE_HEADER = "signature"
#: What every example in VelaFi's docs shows for an active webhook.
SHOWN_ACTIVE_STATUS = 1


def _order_push(now: int) -> dict[str, Any]:
    # Fiat/crypto order message push.
    return {"orderId": "583920174650339328", "clientId": "SBX1001", "userId": "100234", "merchantId": 7,
            "orderType": "BUY", "fiat": "MXN", "fiatAmount": "150.00", "fiatFee": "1.50", "crypto": "USDT",
            "cryptoAmount": "7.42", "orderPrice": "20.0135", "orderStatus": "60", "failCode": "", "failReason": "",
            "createTime": str(now - 60_000), "updateTime": str(now)}


def _global_payment_push(now: int) -> dict[str, Any]:
    # Fiat/fiat (global payment) order message push.
    return {"orderId": "583920174650339329", "clientId": "SBX1002", "userId": "100234",
            "onRampCountry": "Mexico", "onRampMerchantId": 7, "onRampFiat": "MXN", "onRampFiatAmount": "500.00",
            "onRampFiatFee": "0", "offRampCountry": "Colombia", "offRampMerchantId": 8, "offRampFiat": "COP",
            "offRampFiatAmount": "110250.00", "offRampFiatFee": "1500.00", "orderPrice": "220.50",
            "orderStatus": "60", "createTime": str(now - 60_000), "updateTime": str(now)}


def _funding_push(now: int) -> dict[str, Any]:
    # Funding records message push.
    return {"txId": "2048117733", "merchantId": "7", "merchantName": "Sandbox Merchant", "fiat": "ARS",
            "totalAmount": "1010.00", "amount": "1000.00", "fee": "10.00", "paymentId": "63",
            "userPaymentId": "120", "type": "DEPOSIT", "status": "2", "createTime": str(now - 60_000),
            "updateTime": str(now), "payerName": "Sandbox Payer", "payerAccount": "0000003100000000000001",
            "depositAlias": "sandbox.alias", "bankWebhookInfo": "{}", "failCode": "", "failReason": ""}


def _on_ramp_withdraw_push(now: int) -> dict[str, Any]:
    # No documented push: the order push's identifiers with the on-chain fields of a withdrawal.
    return {"orderId": "583920174650339330", "clientId": "SBX1003", "userId": "100234", "merchantId": 7,
            "crypto": "USDC", "cryptoAmount": "75.00", "network": "ethereum",
            "address": "0x5a1f3e0c6d2b4a8e9f7c1d0b3a5e7c9f1b2d4e6a", "txHash": "0x" + "3c" * 32,
            "orderStatus": "60", "createTime": str(now - 60_000), "updateTime": str(now)}


def _stable_coin_payment_push(now: int) -> dict[str, Any]:
    # Stablecoin payment order message push.
    return {"orderId": 7300012, "userId": 100234, "merchantId": 7, "linkId": 5501, "walletId": 20001,
            "walletName": "Sandbox USDT Wallet", "referenceId": "SBX-REF-0001", "currency": "USDT",
            "network": "tron", "networkName": "Tron", "depositAmount": "25.00", "feeAmount": "0.25",
            "receivedAmount": "24.75", "status": "CONFIRMED", "fromAddress": "TSbxFromAddr0000000000000000000001",
            "toAddress": "TSbxToAddr000000000000000000000001", "txHash": "5e" * 32,
            "paymentLink": "https://pay.example.com/l/5501", "createTime": now - 120_000, "cancelTime": None,
            "processTime": now - 60_000, "confirmTime": now}


#: The documented push of each event type, after ``webhookId`` and ``eventType``.
_PUSHES: dict[str, Callable[[int], dict[str, Any]]] = {
    "ORDER_WEBHOOK": _order_push,
    "GLOBAL_PAYMENT_WEBHOOK": _global_payment_push,
    "FUNDING_WEBHOOK": _funding_push,
    "ON_RAMP_WITHDRAW_WEBHOOK": _on_ramp_withdraw_push,
    "STABLE_COIN_PAYMENT_WEBHOOK": _stable_coin_payment_push,
}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_key_pair() -> tuple[str, str]:
    """A fresh RSA key pair: (base64 SPKI public key, PKCS#8 PEM private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(public).decode(), private.decode()


class _KeyPool:
    """RSA key pairs made ahead of time.

    A 2048-bit key takes ~30 ms to make; made inside a create (which holds the
    sandbox's lock) it would make the sandbox the slowest part of every
    benchmark and test. By default a background thread keeps ``SIZE`` ready.
    With ``PULUMI_WEBHOOKS_SANDBOX_VELAFI_KEYS=N`` the sandbox makes N before it
    starts answering and none afterwards, so that a benchmark's measured runs
    share the cores with no key-making. Takes fall back to making one when the
    pool is empty.
    """

    SIZE = 32
    PREMADE_ENV = "PULUMI_WEBHOOKS_SANDBOX_VELAFI_KEYS"

    def __init__(self) -> None:
        self._ready: queue.Queue[tuple[str, str]] = queue.Queue()
        self._started = False
        self._lock = threading.Lock()
        self._free = threading.Semaphore(self.SIZE)  # room left in the background-filled pool

    def _fill(self) -> None:
        while True:
            self._free.acquire()  # blocks while the pool is full
            self._ready.put(_new_key_pair())

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            premade = os.environ.get(self.PREMADE_ENV, "").strip()
            if premade:
                for _ in range(int(premade)):
                    self._ready.put(_new_key_pair())
                return
            threading.Thread(target=self._fill, name="velafi-keys", daemon=True).start()

    def take(self) -> tuple[str, str]:
        self.start()
        try:
            pair = self._ready.get_nowait()
        except queue.Empty:
            return _new_key_pair()
        self._free.release()
        return pair


_keys = _KeyPool()


def _key_pair() -> tuple[str, str]:
    """A key pair no other webhook has."""
    return _keys.take()


def _public_key(private_pem: str) -> str:
    """The base64 SPKI public key of a PEM private key (VelaFi's ``publicKey`` form)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise HTTPError(400, "the private key is not an unencrypted PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise HTTPError(400, "VelaFi signs with RSA: the private key must be an RSA key")
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(spki).decode()


def _sign(private_pem: str, body: bytes) -> str:
    """The ``signature`` header of a push: RSA-SHA256 (PKCS#1 v1.5) of the raw body, hex-encoded."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(body, padding.PKCS1v15(), hashes.SHA256()).hex()


def _expected_token_signature(api_secret: str, timestamp: str) -> str:
    """Hex HMAC-SHA256 keyed with the API secret over ``timestamp=<ms>`` (docs: Create API Token)."""
    message = f"timestamp={timestamp}"
    return hmac.new(api_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _invalid(name: str, reason: str | None = None) -> HTTPError:
    message = f"Parameter {name} is invalid."
    if reason:
        message = f"{message[:-1]}: {reason}"
    return HTTPError(200, message, code=str(CODE_PARAM_IS_INVALID))


def _validated(model: type[BaseModel], body: Any) -> Any:
    """``body`` validated with VelaFi's own field names (camelCase), or a -4010 naming the parameter."""
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    try:
        return model.model_validate(body, by_alias=True, by_name=False)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error.get("loc") or ("body",)
        raise _invalid(str(loc[0]), rule_of(error)) from None


class VelaFiApp(ProviderApp):
    """``/velafi``: token issuance and the webhook endpoints of VelaFi's API v2."""

    name = "velafi"
    title = "VelaFi"

    API_KEY = "vf_sandbox_4f1c2a9e7b3d4e6f"
    API_SECRET = "vf_sandbox_secret_9d2e7c4b1a6f3e8d5c0b"
    #: Lifetime of an issued token (seconds).
    TOKEN_LIFETIME = 3600.0
    #: How far the token request's timestamp may be from the server's clock (seconds).
    TIMESTAMP_WINDOW = 300.0
    #: An identical create within this many seconds is a repeated submit (-1174).
    REPEAT_WINDOW = 1.0

    id_field = "webhookId"

    def initial_data(self) -> dict[str, Any]:
        return {"tokens": {}, "webhooks": {}, "submits": {}}

    def routes(self) -> None:
        require("cryptography", "VelaFi's per-webhook RSA key pairs and signed pushes")
        _keys.start()  # fill the key pool while the sandbox waits for its first create
        self.router.add("GET", TOKEN_PATH, self.generate_token)
        self.router.add("POST", WEBHOOK_PATH, self.create_webhook)
        self.router.add("GET", WEBHOOKS_PATH, self.list_webhooks)
        self.router.add("PUT", f"{WEBHOOK_PATH}/{{webhook_id}}", self.update_webhook)
        self.router.add("DELETE", f"{WEBHOOK_PATH}/{{webhook_id}}", self.delete_webhook)

    def credentials(self) -> dict[str, str]:
        return {"apiKey": self.API_KEY, "apiSecret": self.API_SECRET}

    def error(self, status: int, message: str, code: str | None = None, **extra: Any) -> Response:
        try:
            numeric = int(code) if code is not None else None
        except ValueError:
            numeric = None
        if numeric is None:
            numeric = status if status >= 400 else CODE_PARAM_IS_INVALID
        return Response(status, {"code": numeric, "msg": message, "data": None})

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def ok(data: Any) -> Response:
        return Response(200, {"code": CODE_SUCCESS, "msg": "SUCCESS", "data": data})

    @staticmethod
    def public(hook: Mapping[str, Any]) -> dict[str, Any]:
        """A webhook as the API shows it: status 1 while active, as in VelaFi's examples (never the private key)."""
        shown = {k: hook[k] for k in ("webhookId", "eventType", "url", "status", "publicKey")}
        if shown["status"] == STATUS_ACTIVE:
            shown["status"] = SHOWN_ACTIVE_STATUS
        return shown

    def _new_id(self, taken: Mapping[str, Any]) -> str:
        while True:
            candidate = uuid.UUID(int=self.sandbox.random.getrandbits(128), version=4)
            if str(candidate) not in taken and candidate.hex not in taken:
                return str(candidate)

    def _authorize(self, request: Request) -> None:
        token = request.headers.get("x-bh-token")
        entry = self.data["tokens"].get(token) if token else None
        if entry is None:
            raise HTTPError(401, "UNAUTHORIZED: X-BH-TOKEN is missing or invalid", code=str(CODE_UNAUTHORIZED))
        if _now_ms() >= int(entry["expireTime"]):
            raise HTTPError(200, "TOKEN_EXPIRED", code=str(CODE_TOKEN_EXPIRED))

    def _hook(self, webhook_id: str) -> dict[str, Any]:
        hook: dict[str, Any] | None = self.data["webhooks"].get(webhook_id)
        if hook is None or hook["status"] == STATUS_DELETED:
            raise _invalid("webhookId", f"no webhook {webhook_id}")
        return hook

    # -- endpoints ---------------------------------------------------------------------------
    def generate_token(self, request: Request) -> Response:
        if request.headers.get("x-bh-apikey") != self.API_KEY:
            raise HTTPError(401, "Invalid API-key, IP, or permissions for action.", code=str(CODE_INVALID_API_KEY))
        timestamp = request.query.get("timestamp", "")
        signature = request.query.get("signature", "")
        if not timestamp.isdigit():
            raise _invalid("timestamp")
        if not signature:
            raise _invalid("signature")
        now = _now_ms()
        if abs(now - int(timestamp)) > self.TIMESTAMP_WINDOW * 1000:
            raise HTTPError(401, "Timestamp for this request is outside of the allowed window.",
                            code=str(CODE_INVALID_TIMESTAMP))
        # Exactly the lowercase hex the docs' examples produce: no case folding.
        if not hmac.compare_digest(_expected_token_signature(self.API_SECRET, timestamp).encode(),
                                   signature.encode()):
            raise HTTPError(401, "Signature for this request is not valid.", code=str(CODE_INVALID_SIGNATURE))
        tokens: dict[str, Any] = self.data["tokens"]
        for old in [t for t, e in tokens.items() if int(e["expireTime"]) < now - 3600_000]:
            del tokens[old]  # keep the state small
        token = self._new_id(tokens)
        expire = now + int(self.TOKEN_LIFETIME * 1000)
        tokens[token] = {"expireTime": expire}
        return self.ok({"token": token, "expireTime": str(expire)})

    def create_webhook(self, request: Request) -> Response:
        self._authorize(request)
        body: CreateWebhookBody = _validated(CreateWebhookBody, self.json_body(request))
        now = _now_ms()
        submits: dict[str, int] = self.data["submits"]
        for key in [k for k, at in submits.items() if now - at > self.REPEAT_WINDOW * 1000]:
            del submits[key]
        key = f"{body.event_type} {body.url}"
        if key in submits:
            raise HTTPError(200, "REPEATED_SUBMIT_REQUEST", code=str(CODE_REPEATED_SUBMIT_REQUEST))
        submits[key] = now
        webhooks: dict[str, Any] = self.data["webhooks"]
        webhook_id = uuid.UUID(self._new_id(webhooks)).hex  # 32 hex, as in VelaFi's examples
        public_key, private_key = _key_pair()
        webhooks[webhook_id] = {
            "webhookId": webhook_id,
            "eventType": body.event_type,
            "url": body.url,
            "status": STATUS_ACTIVE,
            "publicKey": public_key,
            "privateKey": private_key,
        }
        return self.ok(self.public(webhooks[webhook_id]))

    def list_webhooks(self, request: Request) -> Response:
        self._authorize(request)
        raw = request.query.get("status", "")
        if raw not in {str(STATUS_ACTIVE), str(STATUS_DISABLED), str(STATUS_DELETED)}:
            raise _invalid("status", "must be 10 (active), 20 (disabled) or 30 (deleted)")
        wanted = int(raw)
        return self.ok([self.public(h) for h in self.data["webhooks"].values() if h["status"] == wanted])

    def update_webhook(self, request: Request, webhook_id: str) -> Response:
        self._authorize(request)
        hook = self._hook(webhook_id)
        body: UpdateWebhookBody = _validated(UpdateWebhookBody, self.json_body(request))
        hook["url"] = body.url
        hook["status"] = body.status
        return self.ok(self.public(hook))

    def delete_webhook(self, request: Request, webhook_id: str) -> Response:
        self._authorize(request)
        hook = self._hook(webhook_id)
        hook["status"] = STATUS_DELETED
        hook.pop("privateKey", None)  # not recoverable: nothing will be signed again
        return self.ok({"result": True})

    # -- admin -----------------------------------------------------------------------------------
    def webhooks(self) -> list[dict[str, Any]]:
        return [self.public(h) for h in self.data["webhooks"].values() if h["status"] != STATUS_DELETED]

    def edit(self, webhook_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """A dashboard change: ``url`` and/or ``status`` (10, 20, or 1 as in VelaFi's examples: stored as 10)."""
        hook = self.data["webhooks"].get(webhook_id)
        if hook is None or hook["status"] == STATUS_DELETED:
            raise HTTPError(404, f"no VelaFi webhook {webhook_id}")
        unknown = set(changes) - {"url", "status"}
        if unknown:
            raise HTTPError(400, f"only url and status can be changed (eventType is fixed), not {sorted(unknown)}")
        url = changes.get("url", hook["url"])
        status = changes.get("status", hook["status"])
        if isinstance(status, bool) or status not in (SHOWN_ACTIVE_STATUS, STATUS_ACTIVE, STATUS_DISABLED):
            raise HTTPError(400, "status must be 10 (active), 20 (disabled) or 1 (active, as in VelaFi's examples)")
        if status == SHOWN_ACTIVE_STATUS:
            status = STATUS_ACTIVE
        self.parse(UpdateWebhookBody, {"url": url, "status": STATUS_ACTIVE})  # the url's rules
        hook["url"] = url
        hook["status"] = status
        return self.public(hook)

    def remove(self, webhook_id: str) -> None:
        hook = self.data["webhooks"].get(webhook_id)
        if hook is None or hook["status"] == STATUS_DELETED:
            raise HTTPError(404, f"no VelaFi webhook {webhook_id}")
        hook["status"] = STATUS_DELETED
        hook.pop("privateKey", None)

    def sample(self, url: str, event: str, signing: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        if event not in _PUSHES:
            raise HTTPError(400, f"unknown VelaFi event type {event!r}; one of {', '.join(_PUSHES)}")
        private_key = signing.get("private_key")
        public_key = _public_key(private_key) if private_key else None
        if private_key is None or public_key is None:
            public_key, private_key = _new_key_pair()
        webhook_id = uuid.UUID(self._new_id(self.data["webhooks"])).hex
        self.data["webhooks"][webhook_id] = {
            "webhookId": webhook_id, "eventType": event, "url": url, "status": STATUS_ACTIVE,
            "publicKey": public_key, "privateKey": private_key,
        }
        return webhook_id, {"public_key": public_key}

    def delivery(self, webhook_id: str, event: str | None) -> Delivery:
        hook = self.data["webhooks"].get(webhook_id)
        if hook is None or hook["status"] == STATUS_DELETED:
            raise HTTPError(404, f"no VelaFi webhook {webhook_id}")
        if hook["status"] != STATUS_ACTIVE:
            raise HTTPError(409, f"VelaFi webhook {webhook_id} is disabled: nothing is pushed to it")
        if event is not None and event != hook["eventType"]:
            raise HTTPError(400, f"VelaFi webhook {webhook_id} receives only {hook['eventType']} events")
        # Flat, as VelaFi pushes: the webhook's id and event type, then that event's fields.
        payload = {"webhookId": webhook_id, "eventType": hook["eventType"], **_PUSHES[hook["eventType"]](_now_ms())}
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", PUSH_SIGNATURE_HEADER: _sign(hook["privateKey"], body)}
        return Delivery(url=hook["url"], headers=headers, body=body)

    def expire_tokens(self) -> None:
        expired = _now_ms() - 1
        for entry in self.data["tokens"].values():
            entry["expireTime"] = expired
