"""The Safepay Raast Wire sandbox: every endpoint, auth failure, rule, and the admin hooks."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_webhooks import verify
from pulumi_webhooks.sandbox import Sandbox
from pulumi_webhooks.sandbox.safepay import (
    SANDBOX_AGGREGATOR_ID,
    SANDBOX_SECOND_AGGREGATOR_ID,
    SANDBOX_SECRET_KEY,
    SafepayApp,
)

from ..helpers import SANDBOX_URL, sandbox_client

AUTH = {"X-SFPY-AGGREGATOR-SECRET-KEY": SANDBOX_SECRET_KEY}
BASE = f"/safepay/v1/aggregators/{SANDBOX_AGGREGATOR_ID}/webhooks"
SECOND = f"/safepay/v1/aggregators/{SANDBOX_SECOND_AGGREGATOR_ID}/webhooks"
FOREIGN = "/safepay/v1/aggregators/agg_11111111-1111-4111-8111-111111111111/webhooks"
BODY: dict[str, Any] = {"url": "https://hooks.example.com/raast", "description": "orders",
        "event_types": ["payment.created", "payment.completed"], "enabled": True}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def create(http: httpx.Client, base: str = BASE, **changes: Any) -> dict[str, Any]:
    response = http.post(base, headers=AUTH, json={**BODY, **changes})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def assert_flat(response: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    for fragment in fragments:
        assert fragment in body["message"]


def assert_wrapped_401(response: httpx.Response, fragment: str = "") -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["api_version"] == "v1"
    assert body["error"]["code"] == "error.unauthorized_access"
    assert fragment in body["error"]["message"]


# -- create ---------------------------------------------------------------------------------------


def test_create_returns_the_endpoint_and_its_secret(http: httpx.Client) -> None:
    response = http.post(BASE, headers=AUTH, json=BODY)
    assert response.status_code == 200
    body = response.json()
    assert body["api_version"] == "v1"
    endpoint, secret = body["data"]["endpoint"], body["data"]["secret"]
    assert re.fullmatch(r"wh_[0-9a-f-]{36}", endpoint["token"])
    assert uuid.UUID(endpoint["token"][3:]).version == 4
    assert len(base64.b64decode(secret, validate=True)) == 32
    assert endpoint["secret"] == secret and endpoint["secret_version"] == 1
    assert endpoint["aggregator_id"] == SANDBOX_AGGREGATOR_ID
    assert endpoint["url"] == BODY["url"] and endpoint["description"] == "orders" and endpoint["enabled"] is True
    assert isinstance(endpoint["event_filter_json"], str)
    assert sorted(json.loads(endpoint["event_filter_json"])) == sorted(BODY["event_types"])
    for stamp in ("created_at", "updated_at", "secret_rotated_at"):
        assert RFC3339.match(endpoint[stamp]), endpoint[stamp]


def test_create_defaults(http: httpx.Client) -> None:
    minimal = http.post(BASE, headers=AUTH, json={"url": "https://a.example.com", "event_types": ["refund.failed"]})
    assert minimal.status_code == 200
    endpoint = minimal.json()["data"]["endpoint"]
    assert endpoint["description"] == "" and endpoint["enabled"] is True
    # Absent means the default; an explicit null is not a value of either field.
    nulls = http.post(BASE, headers=AUTH, json={**BODY, "description": None, "enabled": None})
    assert_flat(nulls, 400, "error.bad_request", "description", "enabled")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"event_types": ["payment.created"]}, ("url", "required")),
        ({"url": "https://a.example.com"}, ("event_types", "required")),
        ({**BODY, "url": "http://a.example.com"}, ("url", "https://")),
        ({**BODY, "url": "not a url"}, ("url",)),
        ({**BODY, "event_types": []}, ("event_types", "at least 1 event")),
        ({**BODY, "event_types": "payment.created"}, ("event_types", "list of event names")),
        ({**BODY, "event_types": ["payment.complete"]}, ("event_types", "did you mean 'payment.completed'")),
        ({**BODY, "enabled": "yes"}, ("enabled",)),
        ({**BODY, "description": 3}, ("description",)),
        ({**BODY, "secret": "mine"}, ("secret", "not permitted")),
    ],
)
def test_create_rules(http: httpx.Client, body: dict[str, Any], fragments: tuple[str, ...]) -> None:
    assert_flat(http.post(BASE, headers=AUTH, json=body), 400, "error.bad_request", *fragments)


def test_create_needs_a_json_object(http: httpx.Client) -> None:
    assert_flat(http.post(BASE, headers=AUTH, content=b"{nope"), 400, "error.bad_request", "not valid JSON")
    assert_flat(http.post(BASE, headers=AUTH, json=["x"]), 400, "error.bad_request", "JSON object")
    assert_flat(http.post(BASE, headers=AUTH), 400, "error.bad_request", "JSON object")


# -- auth -------------------------------------------------------------------------------------------


def _every_call(token: str) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "", BODY),
        ("GET", "", None),
        ("GET", f"/{token}", None),
        ("PUT", f"/{token}", {"description": "x"}),
        ("PUT", f"/{token}/rotate", None),
        ("DELETE", f"/{token}", None),
    ]


@pytest.mark.parametrize("call", range(6))
@pytest.mark.parametrize(
    ("headers", "base", "fragment"),
    [
        ({}, BASE, "partner access key is required"),
        ({"X-SFPY-AGGREGATOR-SECRET-KEY": ""}, BASE, "partner access key is required"),
        ({"X-SFPY-AGGREGATOR-SECRET-KEY": "sk_test_wrong"}, BASE, "partner access key is required"),
        ({"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}, BASE, "partner access key is required"),
        (AUTH, FOREIGN, "not valid for this aggregator"),
    ],
)
def test_every_call_needs_the_aggregator_key(
    http: httpx.Client, sb: Sandbox, call: int, headers: dict[str, str], base: str, fragment: str
) -> None:
    token = create(http)["endpoint"]["token"]
    method, suffix, body = _every_call(token)[call]
    response = http.request(method, base + suffix, headers=headers, json=body)
    assert_wrapped_401(response, fragment)
    assert SANDBOX_SECRET_KEY not in response.text
    assert len(sb.apps["safepay"].data["endpoints"]) == 1
    assert SANDBOX_SECRET_KEY not in json.dumps(sb.journal)


# -- list, get ---------------------------------------------------------------------------------------


def test_list_pages_with_string_count(http: httpx.Client) -> None:
    tokens = [create(http, url=f"https://hooks.example.com/{i}")["endpoint"]["token"] for i in range(12)]
    create(http, SECOND)
    first = http.get(BASE, headers=AUTH).json()
    assert first["api_version"] == "v1"
    assert first["data"]["count"] == "12"
    assert [e["token"] for e in first["data"]["endpoints"]] == tokens[:10]  # default page of 10
    page = http.get(BASE, headers=AUTH, params={"limit": "5", "offset": "10"}).json()["data"]
    assert [e["token"] for e in page["endpoints"]] == tokens[10:]
    assert http.get(BASE, headers=AUTH, params={"offset": "20"}).json()["data"] == {"endpoints": [], "count": "12"}
    assert len(http.get(BASE, headers=AUTH, params={"limit": "1000"}).json()["data"]["endpoints"]) == 12
    assert http.get(SECOND, headers=AUTH).json()["data"]["count"] == "1"


@pytest.mark.parametrize(("params", "fragment"), [({"limit": "0"}, "limit"), ({"limit": "ten"}, "limit"),
                                                  ({"offset": "-1"}, "offset")])
def test_list_rejects_bad_paging(http: httpx.Client, params: dict[str, str], fragment: str) -> None:
    assert_flat(http.get(BASE, headers=AUTH, params=params), 400, "error.bad_request", fragment)


def test_get_one_and_not_found(http: httpx.Client) -> None:
    made = create(http)
    token = made["endpoint"]["token"]
    got = http.get(f"{BASE}/{token}", headers=AUTH)
    assert got.status_code == 200
    assert got.json() == {"api_version": "v1", "data": {"endpoint": made["endpoint"]}}
    # The OpenAPI's only error for one webhook is 400 error.bad_request: the default answer.
    assert_flat(http.get(f"{BASE}/wh_00000000-0000-4000-8000-000000000000", headers=AUTH), 400,
                "error.bad_request", "not found")
    # It exists, but in the other aggregator: not found there.
    assert_flat(http.get(f"{SECOND}/{token}", headers=AUTH), 400, "error.bad_request", "not found")


# -- update, rotate, delete -----------------------------------------------------------------------------


def test_update_changes_only_what_is_sent(http: httpx.Client) -> None:
    made = create(http)["endpoint"]
    token = made["token"]
    response = http.put(f"{BASE}/{token}", headers=AUTH, json={"description": "renamed", "enabled": False})
    assert response.status_code == 200
    endpoint = response.json()["data"]["endpoint"]
    assert (endpoint["description"], endpoint["enabled"], endpoint["url"]) == ("renamed", False, made["url"])
    assert endpoint["event_filter_json"] == made["event_filter_json"]
    assert endpoint["updated_at"] >= made["updated_at"] and endpoint["created_at"] == made["created_at"]
    assert endpoint["secret"] == made["secret"] and endpoint["secret_version"] == 1
    events = http.put(f"{BASE}/{token}", headers=AUTH, json={"event_types": ["refund.canceled"]}).json()
    assert json.loads(events["data"]["endpoint"]["event_filter_json"]) == ["refund.canceled"]
    assert http.put(f"{BASE}/{token}", headers=AUTH).status_code == 200  # every field is optional


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"url": "ftp://a.example.com"}, ("url",)),
        ({"event_types": ["refund.cancelled"]}, ("did you mean 'refund.canceled'",)),
        ({"event_types": []}, ("at least 1 event",)),
        ({"enabled": "false"}, ("enabled",)),
        ({"token": "wh_other"}, ("token", "not permitted")),
    ],
)
def test_update_rules(http: httpx.Client, body: dict[str, Any], fragments: tuple[str, ...]) -> None:
    token = create(http)["endpoint"]["token"]
    assert_flat(http.put(f"{BASE}/{token}", headers=AUTH, json=body), 400, "error.bad_request", *fragments)


def test_update_of_unknown_is_a_bad_request(http: httpx.Client) -> None:
    assert_flat(http.put(f"{BASE}/wh_nope", headers=AUTH, json={"enabled": False}), 400, "error.bad_request",
                "wh_nope", "not found")


def test_rotate_makes_a_new_secret(http: httpx.Client) -> None:
    made = create(http)
    token = made["endpoint"]["token"]
    response = http.put(f"{BASE}/{token}/rotate", headers=AUTH)
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"endpoint", "secret", "rotated_at"}
    assert data["secret"] != made["secret"] and len(base64.b64decode(data["secret"])) == 32
    assert data["endpoint"]["secret"] == data["secret"]
    assert data["endpoint"]["secret_version"] == 2
    assert data["endpoint"]["secret_rotated_at"] == data["rotated_at"]
    assert RFC3339.match(data["rotated_at"])
    again = http.put(f"{BASE}/{token}/rotate", headers=AUTH).json()["data"]
    assert again["endpoint"]["secret_version"] == 3
    assert_flat(http.put(f"{BASE}/wh_nope/rotate", headers=AUTH), 400, "error.bad_request")


def test_delete_then_gone(http: httpx.Client) -> None:
    token = create(http)["endpoint"]["token"]
    response = http.delete(f"{BASE}/{token}", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"api_version": "v1", "data": {}}
    assert_flat(http.get(f"{BASE}/{token}", headers=AUTH), 400, "error.bad_request", "not found")
    assert_flat(http.delete(f"{BASE}/{token}", headers=AUTH), 400, "error.bad_request", "not found")
    assert token not in [e["token"] for e in http.get(BASE, headers=AUTH).json()["data"]["endpoints"]]


def test_unknown_id_can_be_switched_to_404(sb: Sandbox, http: httpx.Client) -> None:
    token = create(http)["endpoint"]["token"]
    app = sb.apps["safepay"]
    assert isinstance(app, SafepayApp) and app.missing_status == 400
    app.missing_status = 404
    assert http.delete(f"{BASE}/{token}", headers=AUTH).status_code == 200
    assert_flat(http.get(f"{BASE}/{token}", headers=AUTH), 404, "error.not_found", "not found")
    assert_flat(http.put(f"{BASE}/{token}", headers=AUTH, json={"enabled": False}), 404, "error.not_found")
    assert_flat(http.put(f"{BASE}/{token}/rotate", headers=AUTH), 404, "error.not_found")
    assert_flat(http.delete(f"{BASE}/{token}", headers=AUTH), 404, "error.not_found")
    # A webhook that exists is not affected by the switch.
    live = create(http)["endpoint"]["token"]
    assert http.get(f"{BASE}/{live}", headers=AUTH).status_code == 200


def test_unknown_id_status_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEPAY_SANDBOX_MISSING_STATUS", "404")
    sb = Sandbox(base_url=SANDBOX_URL, seed=3)
    with sandbox_client(sb) as client:
        assert_flat(client.get(f"{BASE}/wh_nope", headers=AUTH), 404, "error.not_found")
    monkeypatch.setenv("SAFEPAY_SANDBOX_MISSING_STATUS", "410")
    with pytest.raises(ValueError, match="SAFEPAY_SANDBOX_MISSING_STATUS must be 400 or 404"):
        Sandbox(base_url=SANDBOX_URL, seed=3)


def test_unknown_method_and_route_use_the_flat_envelope(http: httpx.Client) -> None:
    token = create(http)["endpoint"]["token"]
    assert_flat(http.patch(f"{BASE}/{token}", headers=AUTH, json={}), 405, "error.method_not_allowed")
    assert_flat(http.get("/safepay/v1/elsewhere", headers=AUTH), 404, "error.not_found")


def test_injected_faults_speak_safepay(sb: Sandbox, http: httpx.Client) -> None:
    admin = sandbox_client(sb, "/_sandbox")
    admin.post("/faults", json={"provider": "safepay", "status": 429, "retry_after": 2, "count": 1})
    response = http.get(BASE, headers=AUTH)
    assert_flat(response, 429, "INJECTED_FAULT")
    assert response.headers["Retry-After"] == "2"
    app = sb.apps["safepay"]
    assert app.error(503, "down").body == {"code": "error.internal", "message": "down"}
    assert app.error(401, "who").body == {"api_version": "v1",
                                          "error": {"code": "error.unauthorized_access", "message": "who"}}


# -- admin ------------------------------------------------------------------------------------------------


def test_admin_config_lists_the_credentials(sb: Sandbox, http: httpx.Client) -> None:
    settings = http.get("/_sandbox/config").json()
    assert settings["config"]["safepay:secretKey"] == SANDBOX_SECRET_KEY
    assert settings["config"]["safepay:aggregatorId"] == SANDBOX_AGGREGATOR_ID
    assert settings["config"]["safepay:baseUrl"] == "http://sandbox.invalid/safepay"
    assert "safepay:secretKey" in settings["secrets"] and "safepay:aggregatorId" not in settings["secrets"]


def test_admin_lists_edits_and_removes(http: httpx.Client) -> None:
    made = create(http)["endpoint"]
    token = made["token"]
    listed = http.get("/_sandbox/webhooks/safepay").json()
    assert listed == [made]

    edited = http.patch(f"/_sandbox/webhooks/safepay/{token}", json={"url": "https://dash.example.com/x",
                                                                     "event_types": ["settlement.on_hold"]})
    assert edited.status_code == 200
    assert edited.json()["url"] == "https://dash.example.com/x"
    assert json.loads(edited.json()["event_filter_json"]) == ["settlement.on_hold"]
    assert http.get(f"{BASE}/{token}", headers=AUTH).json()["data"]["endpoint"]["url"] == "https://dash.example.com/x"

    rotated = http.patch(f"/_sandbox/webhooks/safepay/{token}", json={"rotate": True}).json()
    assert rotated["secret_version"] == 2 and rotated["secret"] != made["secret"]

    bad = http.patch(f"/_sandbox/webhooks/safepay/{token}", json={"event_types": ["payment.lost"]})
    assert bad.status_code == 400 and "payment.lost" in bad.json()["error"]
    assert http.patch(f"/_sandbox/webhooks/safepay/{token}", json={"rotate": "yes"}).status_code == 400
    assert http.patch("/_sandbox/webhooks/safepay/wh_nope", json={}).status_code == 404

    assert http.delete(f"/_sandbox/webhooks/safepay/{token}").status_code == 204
    assert http.get("/_sandbox/webhooks/safepay").json() == []
    assert http.delete(f"/_sandbox/webhooks/safepay/{token}").status_code == 404


def test_admin_delivery_is_signed_as_safepay_signs(http: httpx.Client) -> None:
    made = create(http)
    token = made["endpoint"]["token"]
    answer = http.post(f"/_sandbox/deliver/safepay/{token}", json={"event": "refund.completed", "send": False})
    assert answer.status_code == 200
    delivery = answer.json()
    assert delivery["url"] == BODY["url"]
    headers, body = delivery["headers"], delivery["body"].encode()
    verify.safepay(headers, body, secret=made["secret"])
    assert headers["X-SFPY-SIGNATURE"].startswith("sha256=")
    assert datetime.fromisoformat(headers["X-SFPY-TIMESTAMP"].replace("Z", "+00:00")).tzinfo is not None
    event = json.loads(body)
    assert event["webhook_event_type"] == headers["X-SFPY-EVENT-TYPE"] == "refund.completed"
    assert event["identifier"] == headers["X-SFPY-EVENT-ID"]
    assert event["aggregator_id"] == headers["X-SFPY-AGGREGATOR-ID"] == SANDBOX_AGGREGATOR_ID
    assert event["kind"] == "REFUND_EVENT" and event["source"] == "SAFEPAY_RAAST"
    with pytest.raises(verify.SignatureError):
        verify.safepay(headers, body + b" ", secret=made["secret"])

    # A rotation changes the key that signs.
    rotated = http.put(f"{BASE}/{token}/rotate", headers=AUTH).json()["data"]["secret"]
    later = http.post(f"/_sandbox/deliver/safepay/{token}", json={"send": False}).json()
    verify.safepay(later["headers"], later["body"].encode(), secret=rotated)
    assert later["headers"]["X-SFPY-EVENT-TYPE"] in BODY["event_types"]  # defaults to a subscribed event
    with pytest.raises(verify.SignatureError):
        verify.safepay(later["headers"], later["body"].encode(), secret=made["secret"])

    assert http.post(f"/_sandbox/deliver/safepay/{token}", json={"event": "payout.done", "send": False}
                    ).status_code == 400
    assert http.post("/_sandbox/deliver/safepay/wh_nope", json={"send": False}).status_code == 404


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    first = Sandbox(state_path=path, base_url=SANDBOX_URL, seed=3)
    client = sandbox_client(first)
    made = create(client)
    second = Sandbox(state_path=path, base_url=SANDBOX_URL, seed=3)
    assert second.apps["safepay"].webhooks() == [made["endpoint"]]
    saved = Path(path).read_text()
    assert SANDBOX_SECRET_KEY not in saved


def test_ids_are_deterministic_for_a_seed() -> None:
    def first_token(seed: int) -> str:
        sb = Sandbox(base_url=SANDBOX_URL, seed=seed, providers=[SafepayApp])
        client = sandbox_client(sb)
        return str(create(client)["endpoint"]["token"])

    assert first_token(5) == first_token(5) != first_token(6)
