"""PhonePe in the sandbox: tokens, every endpoint, every rule and auth failure, the admin API."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_webhooks import verify
from pulumi_webhooks.sandbox import Sandbox
from pulumi_webhooks.sandbox.phonepe import CLIENT_ID, CLIENT_SECRET, CLIENT_VERSION, PhonePeApp

from ..helpers import SANDBOX_URL, sandbox_client

HOOKS = "/phonepe/configs/v1/webhooks"
TOKEN = "/phonepe/v1/oauth/token"
AUTH_FAILED = {"code": "AUTHORIZATION_FAILED",
               "message": "Authorization failed [message = Please check the authorization token and try again]"}
BODY: dict[str, Any] = {
    "url": "https://hooks.example.com/phonepe",
    "description": "Webhook description",
    "username": "merchant01",
    "password": "password456",
    "events": ["pg.order.completed", "pg.order.failed"],
}
FORM = {"client_id": CLIENT_ID, "client_version": CLIENT_VERSION, "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials"}


def token(http: httpx.Client) -> str:
    response = http.post(TOKEN, data=FORM)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def auth(http: httpx.Client) -> dict[str, str]:
    return {"Authorization": f"O-Bearer {token(http)}"}


def create(http: httpx.Client, auth: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = http.post(HOOKS, json={**BODY, **changes}, headers=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def bad_request(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == "BAD_REQUEST"
    return str(body["message"])


# -- tokens -------------------------------------------------------------------------------------


def test_token_answer_has_the_documented_shape(http: httpx.Client) -> None:
    before = time.time()
    response = http.post(TOKEN, data=FORM)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "encrypted_access_token", "expires_in", "issued_at", "expires_at",
                         "session_expires_at", "token_type"}
    assert body["token_type"] == "O-Bearer" and body["expires_in"] is None
    assert before - 1 <= body["issued_at"] <= time.time()
    assert body["expires_at"] == body["session_expires_at"] == body["issued_at"] + 3600
    assert body["access_token"] != http.post(TOKEN, data=FORM).json()["access_token"]


@pytest.mark.parametrize("field", ["client_id", "client_secret", "client_version"])
def test_wrong_client_credentials_are_refused(http: httpx.Client, field: str) -> None:
    response = http.post(TOKEN, data={**FORM, field: FORM[field] + "x"})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "AUTHORIZATION_FAILED"
    assert CLIENT_SECRET not in response.text


@pytest.mark.parametrize("field", ["client_id", "client_secret", "client_version", "grant_type"])
def test_token_form_fields_are_required(http: httpx.Client, field: str) -> None:
    form = {k: v for k, v in FORM.items() if k != field}
    assert field in bad_request(http.post(TOKEN, data=form))


def test_token_grant_type_and_encoding(http: httpx.Client) -> None:
    assert "client_credentials" in bad_request(http.post(TOKEN, data={**FORM, "grant_type": "password"}))
    assert "form" in bad_request(http.post(TOKEN, content=b"\xff\xfe", headers={
        "Content-Type": "application/x-www-form-urlencoded"}))


def test_token_call_must_be_form_encoded(http: httpx.Client) -> None:
    # PhonePe documents Content-Type: application/x-www-form-urlencoded for the token call.
    form = "client_id=PHONEPESANDBOXUAT&client_version=1&client_secret=sbx-phonepe-client-secret-6f1d2a" \
        "&grant_type=client_credentials"
    assert "x-www-form-urlencoded" in bad_request(http.post(TOKEN, json=FORM))
    assert "x-www-form-urlencoded" in bad_request(http.post(TOKEN, content=form.encode()))
    answer = http.post(TOKEN, content=form.encode(),
                       headers={"Content-Type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"})
    assert answer.status_code == 200 and answer.json()["token_type"] == "O-Bearer"


# -- authentication of the webhook endpoints -------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", HOOKS), ("POST", HOOKS), ("PUT", f"{HOOKS}/CF1"), ("DELETE", f"{HOOKS}/CF1"),
])
@pytest.mark.parametrize("header", [None, "O-Bearer nope", "Bearer {token}", "{token}", "O-Bearer "])
def test_every_endpoint_refuses_a_missing_or_wrong_token(
    http: httpx.Client, method: str, path: str, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header.format(token=token(http))}
    response = http.request(method, path, json=BODY if method in ("POST", "PUT") else None, headers=headers)
    assert response.status_code == 401
    assert response.json() == AUTH_FAILED


def test_expired_tokens_are_refused(sb: Sandbox, http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.get(HOOKS, headers=auth).status_code == 200
    assert http.post("/_sandbox/tokens/expire").status_code == 204
    response = http.get(HOOKS, headers=auth)
    assert response.status_code == 401 and response.json() == AUTH_FAILED
    assert http.get(HOOKS, headers={"Authorization": f"O-Bearer {token(http)}"}).status_code == 200


# -- create ---------------------------------------------------------------------------------------------


def test_create_answers_the_documented_object(http: httpx.Client, auth: dict[str, str]) -> None:
    before = int(time.time() * 1000)
    hook = create(http, auth)
    assert set(hook) == {"id", "url", "description", "username", "password", "events", "createdAt", "updatedAt",
                         "enabled"}
    assert re.fullmatch(r"CF\d{22}", hook["id"])
    assert hook["enabled"] is True and hook["password"] == "password456"
    assert before <= hook["createdAt"] <= hook["updatedAt"] <= int(time.time() * 1000)
    assert {k: hook[k] for k in BODY} == BODY
    assert create(http, auth)["id"] != hook["id"]


def test_create_cannot_set_enabled(http: httpx.Client, auth: dict[str, str]) -> None:
    assert "enabled" in bad_request(http.post(HOOKS, json={**BODY, "enabled": False}, headers=auth))


def test_description_is_optional(http: httpx.Client, auth: dict[str, str]) -> None:
    body = {k: v for k, v in BODY.items() if k != "description"}
    assert http.post(HOOKS, json=body, headers=auth).json()["description"] == ""


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("url", "http://hooks.example.com/p", "https://"),
    ("url", "not a url", "https://"),
    ("username", "abcd", "5 to 20"),
    ("username", "merchant_01", "letters and digits"),
    ("password", "pass45", "8 to 20"),
    ("password", "password456password456", "8 to 20"),
    ("password", "password-456", "letters and digits"),
    ("password", "passwordonly", "both letters and digits"),
    ("password", "12345678", "both letters and digits"),
    ("events", [], "at least 1 event"),
    ("events", ["pg.order.complete"], "did you mean 'pg.order.completed'"),
    ("events", "pg.order.completed", "list of event names"),
])
def test_create_enforces_every_rule(
    http: httpx.Client, auth: dict[str, str], field: str, value: Any, rule: str
) -> None:
    message = bad_request(http.post(HOOKS, json={**BODY, field: value}, headers=auth))
    assert message.startswith(f"{field}: ") and rule in message
    if field == "password":
        assert str(value) not in message


@pytest.mark.parametrize("field", ["url", "username", "password", "events"])
def test_create_requires_fields(http: httpx.Client, auth: dict[str, str], field: str) -> None:
    body = {k: v for k, v in BODY.items() if k != field}
    assert field in bad_request(http.post(HOOKS, json=body, headers=auth))


def test_create_refuses_what_is_not_a_json_object(http: httpx.Client, auth: dict[str, str]) -> None:
    assert "JSON" in bad_request(http.post(HOOKS, content=b"{nope", headers=auth))
    assert "JSON object" in bad_request(http.post(HOOKS, json=[BODY], headers=auth))


def test_at_most_thirty_webhooks(sb: Sandbox, http: httpx.Client, auth: dict[str, str]) -> None:
    for i in range(30):
        create(http, auth, url=f"https://hooks.example.com/{i}")
    response = http.post(HOOKS, json=BODY, headers=auth)
    assert response.status_code == 400
    assert response.json() == {"code": "BAD_REQUEST", "message": "Cannot make more than 30 webhooks"}
    first = sb.apps["phonepe"].webhooks()[0]["id"]
    assert http.delete(f"{HOOKS}/{first}", headers=auth).status_code == 204
    create(http, auth)


# -- list ---------------------------------------------------------------------------------------------------


def test_list_pages_with_limit_and_offset(http: httpx.Client, auth: dict[str, str]) -> None:
    ids = [create(http, auth, url=f"https://hooks.example.com/{i}")["id"] for i in range(12)]

    def page(**params: Any) -> list[str]:
        response = http.get(HOOKS, params=params, headers=auth)
        assert response.status_code == 200
        assert set(response.json()) == {"webhooks"}
        return [h["id"] for h in response.json()["webhooks"]]

    assert page() == ids[:10]  # default limit
    assert page(limit=5, offset=0) == ids[:5]
    assert page(limit=5, offset=10) == ids[10:]
    assert page(limit=500) == ids  # capped at 100
    assert page(limit=5, offset=12) == []
    listed = http.get(HOOKS, params={"limit": 1}, headers=auth).json()["webhooks"][0]
    assert listed["password"] == "password456" and listed["enabled"] is True


@pytest.mark.parametrize("params", [{"limit": "x"}, {"offset": "1.5"}, {"limit": 0}, {"offset": -1}])
def test_list_refuses_bad_paging(http: httpx.Client, auth: dict[str, str], params: dict[str, Any]) -> None:
    bad_request(http.get(HOOKS, params=params, headers=auth))


# -- update and delete ------------------------------------------------------------------------------------


def test_update_changes_every_field(http: httpx.Client, auth: dict[str, str]) -> None:
    hook = create(http, auth)
    body = {"url": "https://hooks.example.com/v2", "description": "new", "username": "merchant02",
            "password": "N3wPassword", "events": ["pg.refund.completed"], "enabled": False}
    response = http.put(f"{HOOKS}/{hook['id']}", json=body, headers=auth)
    assert response.status_code == 200
    updated = response.json()
    assert {k: updated[k] for k in body} == body
    assert updated["id"] == hook["id"] and updated["createdAt"] == hook["createdAt"]
    assert updated["updatedAt"] > hook["updatedAt"]
    listed = http.get(HOOKS, headers=auth).json()["webhooks"]
    assert listed == [updated]


def test_update_needs_every_field_and_the_rules(http: httpx.Client, auth: dict[str, str]) -> None:
    hook = create(http, auth)
    assert "enabled" in bad_request(http.put(f"{HOOKS}/{hook['id']}", json=BODY, headers=auth))
    message = bad_request(http.put(f"{HOOKS}/{hook['id']}", json={**BODY, "enabled": True, "username": "ab"},
                                   headers=auth))
    assert message.startswith("username: ")
    assert "enabled" in bad_request(http.put(f"{HOOKS}/{hook['id']}", json={**BODY, "enabled": "sometimes"},
                                             headers=auth))


@pytest.mark.parametrize("field", ["url", "description", "username", "password", "events", "enabled"])
def test_update_is_a_full_replacement_so_every_field_is_required(
    http: httpx.Client, auth: dict[str, str], field: str
) -> None:
    hook = create(http, auth)
    body = {k: v for k, v in {**BODY, "enabled": True}.items() if k != field}
    message = bad_request(http.put(f"{HOOKS}/{hook['id']}", json=body, headers=auth))
    assert message.startswith(f"{field}: is required")
    assert http.get(HOOKS, headers=auth).json()["webhooks"] == [hook]


def test_the_api_refuses_underscores_in_a_username_the_dashboard_may_set(
    http: httpx.Client, auth: dict[str, str]
) -> None:
    # The webhook API pages: "alphanumeric only"; the dashboard pages: "letters, digits, and underscores".
    refused = bad_request(http.post(HOOKS, json={**BODY, "username": "merchant_01"}, headers=auth))
    assert refused.startswith("username: ") and "letters and digits" in refused
    hook = create(http, auth)
    edited = http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"username": "merchant_01"})
    assert edited.status_code == 200 and edited.json()["username"] == "merchant_01"
    listed = http.get(HOOKS, headers=auth).json()["webhooks"]
    assert [h["username"] for h in listed] == ["merchant_01"]
    # An update body is held to the API's rule, even to keep the username the webhook has.
    keep = {**BODY, "username": "merchant_01", "enabled": True, "description": "kept"}
    assert bad_request(http.put(f"{HOOKS}/{hook['id']}", json=keep, headers=auth)).startswith("username: ")
    assert http.get(HOOKS, headers=auth).json()["webhooks"] == listed
    rename = http.put(f"{HOOKS}/{hook['id']}", json={**keep, "username": "merchant01"}, headers=auth)
    assert rename.status_code == 200 and rename.json()["username"] == "merchant01"


@pytest.mark.parametrize(("username", "status"), [
    ("MERCHANT_2024_ORDERS", 200), ("merch", 200), ("_____", 200),
    ("merchant-01", 400), ("m_01", 400), ("merchant 01", 400), ("m" * 21, 400), ("mérchant01", 400),
])
def test_the_dashboard_holds_usernames_to_its_own_rule(
    http: httpx.Client, auth: dict[str, str], username: str, status: int
) -> None:
    hook = create(http, auth)
    edited = http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"username": username})
    assert edited.status_code == status
    if status == 400:
        assert edited.json()["error"].startswith("username: ")


def test_update_and_delete_of_an_unknown_webhook(http: httpx.Client, auth: dict[str, str]) -> None:
    message = bad_request(http.put(f"{HOOKS}/CF404", json={**BODY, "enabled": True}, headers=auth))
    assert message == "Webhook CF404 not found"
    assert bad_request(http.delete(f"{HOOKS}/CF404", headers=auth)) == "Webhook CF404 not found"


def test_delete_answers_204_without_a_body(http: httpx.Client, auth: dict[str, str]) -> None:
    hook = create(http, auth)
    response = http.delete(f"{HOOKS}/{hook['id']}", headers=auth)
    assert response.status_code == 204 and response.content == b""
    assert http.get(HOOKS, headers=auth).json() == {"webhooks": []}


def test_unknown_routes_and_methods_use_the_envelope(http: httpx.Client, auth: dict[str, str]) -> None:
    response = http.patch(f"{HOOKS}/CF1", json={}, headers=auth)
    assert response.status_code == 405 and response.json()["code"] == "BAD_REQUEST"
    response = http.get("/phonepe/configs/v2/other", headers=auth)
    assert response.status_code == 404 and set(response.json()) == {"code", "message"}


def test_injected_server_errors_use_the_envelope(sb: Sandbox, http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.post("/_sandbox/faults", json={"provider": "phonepe", "status": 500, "count": 1}).status_code == 201
    response = http.get(HOOKS, headers=auth)
    assert response.status_code == 500 and set(response.json()) == {"code", "message"}
    assert PhonePeApp(sb).error(500, "boom").body == {"code": "INTERNAL_SERVER_ERROR", "message": "boom"}
    assert PhonePeApp(sb).error(401, "no").body == {"code": "AUTHORIZATION_FAILED", "message": "no"}


# -- admin -------------------------------------------------------------------------------------------------------


def test_admin_lists_edits_and_removes(http: httpx.Client, auth: dict[str, str]) -> None:
    hook = create(http, auth)
    assert http.get("/_sandbox/webhooks/phonepe").json() == [hook]

    edited = http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"enabled": False, "password": "Edit3dPass"})
    assert edited.status_code == 200
    assert edited.json()["enabled"] is False and edited.json()["password"] == "Edit3dPass"
    assert edited.json()["updatedAt"] > hook["updatedAt"]
    assert http.get(HOOKS, headers=auth).json()["webhooks"][0]["password"] == "Edit3dPass"

    bad = http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"username": "x"})
    assert bad.status_code == 400 and "username" in bad.json()["error"]
    bad = http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"id": "CF9", "createdAt": 1})
    assert bad.status_code == 400 and "cannot edit createdAt, id" in bad.json()["error"]
    assert http.patch("/_sandbox/webhooks/phonepe/CF404", json={}).status_code == 404

    assert http.delete(f"/_sandbox/webhooks/phonepe/{hook['id']}").status_code == 204
    assert http.delete(f"/_sandbox/webhooks/phonepe/{hook['id']}").status_code == 404
    assert http.get(HOOKS, headers=auth).json() == {"webhooks": []}


def test_admin_delivery_is_signed_as_phonepe_signs(http: httpx.Client, auth: dict[str, str]) -> None:
    hook = create(http, auth)
    response = http.post(f"/_sandbox/deliver/phonepe/{hook['id']}", json={"event": "pg.order.failed", "send": False})
    assert response.status_code == 200
    delivery = response.json()
    assert delivery["url"] == BODY["url"]
    expected = hashlib.sha256(b"merchant01:password456").hexdigest()
    assert delivery["headers"]["Authorization"] == expected
    body = json.loads(delivery["body"])
    assert body["event"] == "pg.order.failed" and body["payload"]["state"] == "FAILED"
    verify.phonepe(delivery["headers"], delivery["body"].encode(), username="merchant01", password="password456")
    with pytest.raises(verify.SignatureError):
        verify.phonepe(delivery["headers"], delivery["body"].encode(), username="merchant01", password="other1234")

    default = http.post(f"/_sandbox/deliver/phonepe/{hook['id']}", json={"send": False}).json()
    assert json.loads(default["body"])["event"] == "pg.order.completed"
    unsubscribed = http.post(f"/_sandbox/deliver/phonepe/{hook['id']}", json={"event": "pg.refund.failed"})
    assert unsubscribed.status_code == 400
    assert http.post("/_sandbox/deliver/phonepe/CF404", json={"send": False}).status_code == 404
    http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"username": "merchant_01"})
    underscored = http.post(f"/_sandbox/deliver/phonepe/{hook['id']}", json={"send": False}).json()
    # printf '%s' merchant_01:password456 | openssl dgst -sha256
    assert underscored["headers"]["Authorization"] == "e2a979e60bf6ffc36ef50b04b9c6a3e5366f907cb3a89e79fc99734fe9d335e0"
    http.patch(f"/_sandbox/webhooks/phonepe/{hook['id']}", json={"enabled": False})
    disabled = http.post(f"/_sandbox/deliver/phonepe/{hook['id']}", json={"send": False})
    assert disabled.status_code == 400 and "disabled" in disabled.json()["error"]


def test_config_points_a_stack_here_with_secret_credentials(http: httpx.Client) -> None:
    settings = http.get("/_sandbox/config").json()
    config = settings["config"]
    assert config["phonepe:baseUrl"] == "http://sandbox.invalid/phonepe"
    assert (config["phonepe:clientId"], config["phonepe:clientSecret"], config["phonepe:clientVersion"]) == (
        CLIENT_ID, CLIENT_SECRET, CLIENT_VERSION)
    assert {"phonepe:clientId", "phonepe:clientSecret"} <= set(settings["secrets"])
    assert "phonepe:clientVersion" not in settings["secrets"]


def test_state_and_journal_hold_no_credential_or_token(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    sb = Sandbox(state_path=str(state), base_url=SANDBOX_URL, seed=3)
    with sandbox_client(sb) as http:
        access = token(http)
        hook = create(http, {"Authorization": f"O-Bearer {access}"})
    saved = state.read_text()
    assert hook["id"] in saved
    assert access not in saved and CLIENT_SECRET not in saved
    journal = json.dumps(sb.journal)
    assert access not in journal and CLIENT_SECRET not in journal

    again = Sandbox(state_path=str(state), base_url=SANDBOX_URL, seed=3)
    assert [h["id"] for h in again.apps["phonepe"].webhooks()] == [hook["id"]]
    with sandbox_client(again) as http:
        # Tokens survive a restart with --state, as PhonePe's would.
        assert http.get(HOOKS, headers={"Authorization": f"O-Bearer {access}"}).status_code == 200
