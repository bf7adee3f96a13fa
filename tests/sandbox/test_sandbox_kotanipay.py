"""The Kotani Pay sandbox: both endpoints, every authentication failure, every rule, the admin hooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_webhooks import verify
from pulumi_webhooks.kotanipay import EVENTS
from pulumi_webhooks.sandbox import Sandbox, SandboxServer
from pulumi_webhooks.sandbox.kotanipay import (
    SANDBOX_API_KEY,
    SANDBOX_API_SECRET,
    SANDBOX_INTEGRATOR_ID,
    SANDBOX_READONLY_API_KEY,
    KotaniPayApp,
)

from ..helpers import SANDBOX_URL, sandbox_client

INTEGRATOR = "/kotanipay/api/v3/integrator"
WEBHOOK = "/kotanipay/api/v3/integrator/webhook"
ADMIN = "/_sandbox"
URL = "https://hooks.example.com/kotani"
SECRET = "whsec_sandbox_test_01"
AUTH = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}


def patch(http: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return http.patch(WEBHOOK, json=body, headers=AUTH if headers is None else headers)


def full(**overrides: Any) -> dict[str, Any]:
    return {"webhook_url": URL, "webhook_secret": SECRET, "webhook_events": ["payment.confirmed"], **overrides}


def held(sb: Sandbox) -> dict[str, Any]:
    integrator: dict[str, Any] = sb.apps["kotanipay"].data["integrator"]
    return integrator


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["data"], dict)
    return body


# -- the API ---------------------------------------------------------------------------------------


def test_the_integrator_starts_without_a_webhook(http: httpx.Client) -> None:
    response = http.get(INTEGRATOR, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"]
    data = body["data"]
    assert re.fullmatch(r"[0-9a-f]{24}", data["id"]) and data["id"] == SANDBOX_INTEGRATOR_ID
    assert {"organization", "first_name", "last_name", "email", "phone"} <= set(data)
    assert data["webhook_url"] is None and data["webhook_events"] == []
    assert "webhook_secret" not in json.dumps(body)


def test_patch_sets_the_setting_and_answers_the_same_dto(sb: Sandbox, http: httpx.Client) -> None:
    response = patch(http, full(webhook_events=["system.event", "payment.confirmed", "system.event"]))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Integrator webhook settings updated successfully."
    assert body["data"]["webhook_url"] == URL
    assert body["data"]["webhook_events"] == ["payment.confirmed", "system.event"]
    assert SECRET not in response.text  # stored, never returned
    assert held(sb)["webhook_secret"] == SECRET
    assert http.get(INTEGRATOR, headers=AUTH).json()["data"] == body["data"]


def test_patch_is_partial_but_no_events_means_every_event(sb: Sandbox, http: httpx.Client) -> None:
    """Omitted URL and secret are kept; omitted (or empty) events are "all", as documented."""
    patch(http, full())
    response = patch(http, {"webhook_url": "https://other.example.com/k"})
    assert response.status_code == 200
    assert response.json()["data"]["webhook_events"] == []  # omitted events: all (documented)
    assert held(sb)["webhook_secret"] == SECRET  # omitted secret: kept
    response = patch(http, {"webhook_events": ["system.event"]})
    assert response.json()["data"]["webhook_url"] == "https://other.example.com/k"  # omitted URL: kept
    assert patch(http, {}).json()["data"] == {**response.json()["data"], "webhook_events": []}
    assert held(sb)["webhook_secret"] == SECRET


def test_patch_never_leaves_a_setting_without_a_url(sb: Sandbox, http: httpx.Client) -> None:
    for body in ({"webhook_events": ["system.event"]}, {"webhook_secret": SECRET}, {}):
        answer = assert_error(patch(http, body), 400, "VALIDATION_ERROR")
        assert any(e.startswith("webhook_url:") for e in answer["data"]["errors"])
    assert held(sb)["webhook_url"] is None and held(sb)["webhook_secret"] is None


@pytest.mark.parametrize("field", ["webhook_url", "webhook_secret", "webhook_events"])
def test_a_null_field_is_refused(sb: Sandbox, http: httpx.Client, field: str) -> None:
    patch(http, full())
    before = dict(held(sb))
    answer = assert_error(patch(http, full(**{field: None})), 400, "VALIDATION_ERROR")
    assert answer["data"]["errors"] == [f"{field}: must not be null"]
    assert held(sb) == before


def test_every_documented_event_is_accepted(http: httpx.Client) -> None:
    response = patch(http, full(webhook_events=list(EVENTS)))
    assert response.status_code == 200
    assert response.json()["data"]["webhook_events"] == sorted(EVENTS)
    assert patch(http, full(webhook_events=[])).json()["data"]["webhook_events"] == []
    response = patch(http, {k: v for k, v in full().items() if k != "webhook_events"})
    assert response.json()["data"]["webhook_events"] == []


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (full(webhook_url="http://hooks.example.com/k"), "webhook_url", "https://"),
        (full(webhook_url="not a url"), "webhook_url", "https://"),
        (full(webhook_url=""), "webhook_url", "https://"),
        (full(webhook_events=["payment.confirmd"]), "webhook_events", "did you mean 'payment.confirmed'"),
        (full(webhook_events="payment.confirmed"), "webhook_events", "must be a list"),
        (full(webhook_secret="  "), "webhook_secret", "must not be empty"),
        (full(webhook_secret=123), "webhook_secret", "string"),
        (full(extra=True), "extra", "Extra inputs are not permitted"),
    ],
)
def test_rules_answer_400_in_the_envelope(
    sb: Sandbox, http: httpx.Client, body: dict[str, Any], field: str, rule: str
) -> None:
    before = dict(held(sb))
    answer = assert_error(patch(http, body), 400, "VALIDATION_ERROR")
    errors = answer["data"]["errors"]
    assert any(e.startswith(f"{field}:") and rule in e for e in errors), errors
    assert held(sb) == before  # nothing changed


def test_bodies_that_are_not_an_object(http: httpx.Client) -> None:
    answer = assert_error(http.patch(WEBHOOK, content=b"{nope", headers={**AUTH, "Content-Type": "application/json"}),
                          400, "VALIDATION_ERROR")
    assert "JSON" in answer["message"]
    answer = assert_error(patch(http, ["webhook_url"]), 400, "VALIDATION_ERROR")
    assert answer["data"]["errors"] == ["body: must be a JSON object"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": SANDBOX_API_KEY}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"},
     {"Authorization": f"Bearer {SANDBOX_API_KEY}x"}, {"X-API-Key": SANDBOX_API_KEY}],
)
def test_missing_or_wrong_keys_are_401(sb: Sandbox, http: httpx.Client, headers: dict[str, str]) -> None:
    assert_error(http.get(INTEGRATOR, headers=headers), 401, "UNAUTHORIZED")
    assert_error(patch(http, full(), headers=headers), 401, "UNAUTHORIZED")
    assert held(sb)["webhook_url"] is None


def test_a_key_without_permission_reads_but_cannot_write(sb: Sandbox, http: httpx.Client) -> None:
    readonly = {"Authorization": f"Bearer {SANDBOX_READONLY_API_KEY}"}
    assert http.get(INTEGRATOR, headers=readonly).status_code == 200
    answer = assert_error(patch(http, full(), headers=readonly), 403, "FORBIDDEN")
    assert "permission" in answer["message"] or "may not" in answer["message"]
    assert held(sb)["webhook_url"] is None


def test_the_scheme_is_case_insensitive(http: httpx.Client) -> None:
    assert http.get(INTEGRATOR, headers={"authorization": f"bearer {SANDBOX_API_KEY}"}).status_code == 200


def test_other_paths_and_methods_answer_in_the_envelope(http: httpx.Client) -> None:
    assert_error(http.get("/kotanipay/api/v3/integrator/webhooks", headers=AUTH), 404, "NOT_FOUND")
    assert_error(http.delete(WEBHOOK, headers=AUTH), 405, "METHOD_NOT_ALLOWED")
    assert_error(http.post(WEBHOOK, json=full(), headers=AUTH), 405, "METHOD_NOT_ALLOWED")


def test_credentials_and_secret_settings(sb: Sandbox) -> None:
    app = sb.apps["kotanipay"]
    assert app.credentials() == {"apiKey": SANDBOX_API_KEY, "apiSecret": SANDBOX_API_SECRET}
    assert app.secret_settings() == {"apiKey", "apiSecret"}
    assert sb.stack_config()["kotanipay:baseUrl"] == "http://sandbox.invalid/kotanipay"
    assert {"kotanipay:apiKey", "kotanipay:apiSecret"} <= set(sb.secret_config_keys())


def test_the_journal_never_holds_keys_or_secrets(sb: Sandbox, http: httpx.Client) -> None:
    patch(http, full())
    http.get(INTEGRATOR, headers=AUTH)
    journal = json.dumps(sb.journal)
    assert SANDBOX_API_KEY not in journal and SECRET not in journal
    assert [(e["method"], e["path"], e["status"]) for e in sb.journal] == [
        ("PATCH", WEBHOOK, 200), ("GET", INTEGRATOR, 200)]


def test_injected_faults_use_the_envelope(sb: Sandbox, http: httpx.Client) -> None:
    from pulumi_webhooks.sandbox import Fault

    sb.faults.append(Fault(provider="kotanipay", status=429, retry_after=2, count=1))
    response = http.get(INTEGRATOR, headers=AUTH)
    assert_error(response, 429, "INJECTED_FAULT")
    assert response.headers["Retry-After"] == "2"


# -- admin -------------------------------------------------------------------------------------------


def test_admin_lists_the_setting_without_its_secret(sb: Sandbox, http: httpx.Client) -> None:
    assert http.get(f"{ADMIN}/webhooks/kotanipay").json() == []
    patch(http, full())
    listed = http.get(f"{ADMIN}/webhooks/kotanipay").json()
    assert listed == [{"id": SANDBOX_INTEGRATOR_ID, "webhook_url": URL, "webhook_events": ["payment.confirmed"],
                       "has_secret": True}]


def test_admin_edit_changes_only_what_it_names(sb: Sandbox, http: httpx.Client) -> None:
    patch(http, full())
    response = http.patch(f"{ADMIN}/webhooks/kotanipay/{SANDBOX_INTEGRATOR_ID}",
                          json={"webhook_events": ["refund.failed", "refund.completed"]})
    assert response.status_code == 200
    assert response.json()["webhook_events"] == ["refund.completed", "refund.failed"]
    assert response.json()["webhook_url"] == URL
    assert held(sb)["webhook_secret"] == SECRET  # a dashboard edit keeps the secret
    response = http.patch(f"{ADMIN}/webhooks/kotanipay/{SANDBOX_INTEGRATOR_ID}",
                          json={"webhook_url": "https://dashboard.example.com/k"})
    assert response.json()["webhook_url"] == "https://dashboard.example.com/k"
    assert response.json()["webhook_events"] == ["refund.completed", "refund.failed"]


@pytest.mark.parametrize(
    ("webhook_id", "changes", "status", "text"),
    [
        ("0" * 24, {"webhook_url": URL}, 404, "no integrator"),
        (SANDBOX_INTEGRATOR_ID, {"webhook_secret": "x"}, 400, "cannot edit webhook_secret"),
        (SANDBOX_INTEGRATOR_ID, {"webhook_url": "http://plain.example.com"}, 400, "https://"),
        (SANDBOX_INTEGRATOR_ID, {"webhook_events": ["nope"]}, 400, "unknown event"),
    ],
)
def test_admin_edit_rules(http: httpx.Client, webhook_id: str, changes: dict[str, Any], status: int,
                          text: str) -> None:
    response = http.patch(f"{ADMIN}/webhooks/kotanipay/{webhook_id}", json=changes)
    assert response.status_code == status
    assert text in response.json()["error"]


def test_admin_remove_clears_the_setting(sb: Sandbox, http: httpx.Client) -> None:
    patch(http, full())
    assert http.delete(f"{ADMIN}/webhooks/kotanipay/{SANDBOX_INTEGRATOR_ID}").status_code == 204
    data = http.get(INTEGRATOR, headers=AUTH).json()["data"]
    assert (data["webhook_url"], data["webhook_events"]) == (None, [])
    assert held(sb)["webhook_secret"] is None
    assert http.get(f"{ADMIN}/webhooks/kotanipay").json() == []
    assert http.delete(f"{ADMIN}/webhooks/kotanipay/{'1' * 24}").status_code == 404


def test_admin_delivery_is_signed_as_kotani_signs(sb: Sandbox, http: httpx.Client) -> None:
    patch(http, full(webhook_events=["payment.confirmed", "kyc.status.changed"]))
    response = http.post(f"{ADMIN}/deliver/kotanipay/{SANDBOX_INTEGRATOR_ID}",
                         json={"event": "payment.confirmed", "send": False})
    assert response.status_code == 200
    delivery = response.json()
    assert delivery["url"] == URL
    body = delivery["body"].encode()
    payload = json.loads(body)
    assert list(payload) == ["event", "data", "signature"] and payload["event"] == "payment.confirmed"
    # Compact, non-ASCII raw as UTF-8 (JSON.stringify), not \u-escaped.
    assert "Wanjirū".encode() in body and b"\\u" not in body and b": " not in body
    headers = delivery["headers"]
    assert headers["X-Kotani-Event"] == "payment.confirmed"
    assert headers["X-Kotani-Integrator"] == SANDBOX_INTEGRATOR_ID
    # Signed: the same bytes without the trailing signature field.
    copy = f',"signature":"{payload["signature"]}"}}'.encode()
    assert body.endswith(copy)
    signed = body[: -len(copy)] + b"}"
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Kotani-Signature"] == f"sha256={expected}" == payload["signature"]
    assert hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest() != expected  # not the raw body
    verify.kotanipay(headers, body, secret=SECRET)
    with pytest.raises(verify.SignatureError):
        verify.kotanipay(headers, body, secret="whsec_other")
    assert SECRET not in json.dumps(delivery)


def test_admin_delivery_rules(http: httpx.Client) -> None:
    deliver = f"{ADMIN}/deliver/kotanipay/{SANDBOX_INTEGRATOR_ID}"
    assert http.post(deliver, json={"send": False}).status_code == 404  # nothing configured
    patch(http, full(webhook_events=["kyc.status.changed"]))
    default = http.post(deliver, json={"send": False}).json()
    assert default["headers"]["X-Kotani-Event"] == "kyc.status.changed"
    assert http.post(deliver, json={"event": "payment.confirmed", "send": False}).status_code == 400
    assert http.post(deliver, json={"event": "no.such.event", "send": False}).status_code == 400
    patch(http, {"webhook_url": URL})  # all events
    assert http.post(deliver, json={"event": "settlement.paused", "send": False}).status_code == 200
    assert http.post(f"{ADMIN}/deliver/kotanipay/{'0' * 24}", json={"send": False}).status_code == 404


def test_without_a_secret_nothing_goes_to_the_webhook_url(sb: Sandbox, http: httpx.Client) -> None:
    """Kotani's other mode: unsigned posts to each transaction's callbackUrl instead."""
    sb.apps["kotanipay"].edit(SANDBOX_INTEGRATOR_ID, {"webhook_url": URL})
    response = http.post(f"{ADMIN}/deliver/kotanipay/{SANDBOX_INTEGRATOR_ID}", json={"send": False})
    assert response.status_code == 409
    assert "callbackUrl" in response.json()["error"]


def test_admin_delivery_reaches_a_loopback_receiver(sb: Sandbox, http: httpx.Client) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        patch(http, full())
        target = f"http://127.0.0.1:{server.server_address[1]}/hook"
        answer = http.post(f"{ADMIN}/deliver/kotanipay/{SANDBOX_INTEGRATOR_ID}", json={"target": target}).json()
        assert answer["status"] == 204
    finally:
        server.shutdown()
        server.server_close()
    [(headers, body)] = received
    verify.kotanipay(headers, body, secret=SECRET)


# -- isSecure request signing -----------------------------------------------------------------------

NONCE = "7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a"


def signed(message_tail: str, *, stamp: str | None = None, nonce: str = NONCE,
           secret: str = SANDBOX_API_SECRET) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{stamp}.{nonce}.{message_tail}".encode(), hashlib.sha256).hexdigest()
    return {**AUTH, "x-timestamp": stamp, "x-nonce": nonce, "x-signature": digest}


@pytest.fixture
def secure(sb: Sandbox) -> None:
    sb.apps["kotanipay"].edit(SANDBOX_INTEGRATOR_ID, {"is_secure": True})


def test_signatures_are_ignored_until_the_account_turns_is_secure_on(http: httpx.Client) -> None:
    assert http.get(INTEGRATOR, headers=AUTH).status_code == 200
    assert http.get(INTEGRATOR, headers={**AUTH, "x-signature": "00"}).status_code == 200


def test_a_secure_account_accepts_correctly_signed_requests(sb: Sandbox, http: httpx.Client, secure: None) -> None:
    assert http.get(INTEGRATOR, headers=signed("integrator")).status_code == 200
    # The body as JSON.stringify writes it: compact, non-ASCII raw.
    body = '{"webhook_url":"https://hooks.example.com/kotani/é","webhook_secret":"whsec_sandbox_test_01"}'
    headers = {**signed(body, nonce="1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"), "Content-Type": "application/json"}
    # Sent pretty-printed and \u-escaped: Kotani signs the parsed body, re-stringified.
    pretty = json.dumps(json.loads(body), indent=2).encode()
    response = http.patch(WEBHOOK, content=pretty, headers=headers)
    assert response.status_code == 200, response.text
    assert held(sb)["webhook_url"] == "https://hooks.example.com/kotani/é"


@pytest.mark.parametrize(
    ("headers", "text"),
    [
        # Built when the test runs: a timestamp taken at collection can be minutes old by then.
        (lambda: AUTH, "required"),
        (lambda: {**signed("integrator"), "x-signature": "0" * 64}, "does not match"),
        (lambda: signed("integrator", secret="another-secret"), "does not match"),
        (lambda: signed("api"), "does not match"),  # not the last path segment
        (lambda: signed("integrator", stamp=str(int(time.time()) - 301)), "window"),
        (lambda: signed("integrator", stamp=str(int(time.time() * 1000))), "Unix seconds"),  # milliseconds
        (lambda: signed("integrator", stamp="12.5"), "Unix seconds"),
        (lambda: signed("integrator", nonce="7d3c2b1a-0f9e-1d8c-b7a6-5f4e3d2c1b0a"), "UUID v4"),
        (lambda: {"x-timestamp": "1", "x-nonce": NONCE, "x-signature": "00"}, "Unauthorized"),
    ],
)
def test_a_secure_account_refuses_unsigned_or_wrongly_signed_requests(
    http: httpx.Client, secure: None, headers: Callable[[], dict[str, str]], text: str
) -> None:
    answer = assert_error(http.get(INTEGRATOR, headers=headers()), 401, "UNAUTHORIZED")
    assert text in answer["message"]


def test_a_secure_account_accepts_a_nonce_once(sb: Sandbox, http: httpx.Client, secure: None) -> None:
    headers = signed("integrator")
    assert http.get(INTEGRATOR, headers=headers).status_code == 200
    answer = assert_error(http.get(INTEGRATOR, headers=headers), 401, "UNAUTHORIZED")
    assert "already used" in answer["message"]


def test_a_wrongly_signed_patch_changes_nothing(sb: Sandbox, http: httpx.Client, secure: None) -> None:
    headers = signed(json.dumps(full(webhook_url="https://other.example.com/k"), separators=(",", ":")))
    assert_error(patch(http, full(), headers=headers), 401, "UNAUTHORIZED")
    assert held(sb)["webhook_url"] is None


def test_is_secure_is_a_dashboard_switch(sb: Sandbox, http: httpx.Client) -> None:
    edit = f"{ADMIN}/webhooks/kotanipay/{SANDBOX_INTEGRATOR_ID}"
    assert http.patch(edit, json={"is_secure": "yes"}).status_code == 400
    assert http.patch(edit, json={"is_secure": True}).status_code == 200
    assert http.get(INTEGRATOR, headers=AUTH).status_code == 401
    assert http.patch(edit, json={"is_secure": False}).status_code == 200
    assert http.get(INTEGRATOR, headers=AUTH).status_code == 200


def test_state_survives_a_restart_and_reset_empties_it(tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    sb = Sandbox(state_path=path, base_url=SANDBOX_URL, providers=[KotaniPayApp])
    with sandbox_client(sb) as http:
        patch(http, full())
    again = Sandbox(state_path=path, base_url=SANDBOX_URL, providers=[KotaniPayApp])
    assert held(again)["webhook_url"] == URL and held(again)["webhook_secret"] == SECRET
    again.reset()
    assert held(again)["webhook_url"] is None
    assert held(again)["id"] == SANDBOX_INTEGRATOR_ID  # the same account after a reset


def test_over_loopback_http() -> None:
    server = SandboxServer(Sandbox(seed=1, providers=[KotaniPayApp])).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            assert patch(client, full()).status_code == 200
            assert client.get(INTEGRATOR, headers=AUTH).json()["data"]["webhook_url"] == URL
            assert client.get(INTEGRATOR).status_code == 401
    finally:
        server.stop()
