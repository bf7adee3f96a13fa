"""The Spritz sandbox: every endpoint, every authentication failure, every rule, and the admin hooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pulumi_webhooks import verify
from pulumi_webhooks.sandbox import Sandbox
from pulumi_webhooks.sandbox.spritz import API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET, SpritzApp

from ..helpers import SANDBOX_URL, sandbox_client

WEBHOOKS = "/spritz/v1/integrator/webhooks"
SECRET = "/spritz/v1/integrator/webhook-secret"
URL = "https://hooks.example.com/spritz"


def signed_headers(method: str, signed_path: str, body: bytes = b"", *, ts: int | None = None,
                   secret: str = INTEGRATOR_SECRET, key: str = INTEGRATOR_KEY,
                   api_key: str = API_KEY) -> dict[str, str]:
    """Headers of a signed request, computed here from the documented scheme."""
    stamp = str(int(time.time() * 1000) if ts is None else ts)
    message = f"{stamp}.{method}.{signed_path}.{hashlib.sha256(body).hexdigest()}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"Authorization": f"Bearer {api_key}", "X-Integrator-Key": key, "X-Timestamp": stamp,
            "X-Signature": f"sha256={digest}"}


LEGACY = {"Authorization": f"Bearer {API_KEY}", "X-INTEGRATION-KEY": INTEGRATOR_KEY}


def call(http: httpx.Client, method: str, path: str, body: Any = None, *, legacy: bool = False,
         raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    documented = path.removeprefix("/spritz")
    headers = dict(LEGACY) if legacy else signed_headers(method, documented, content)
    if content:
        headers["Content-Type"] = "application/json"
    return http.request(method, path, content=content, headers=headers)


def assert_problem(response: httpx.Response, status: int, detail: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status and body["title"]
    assert detail in body["detail"], body
    return body


def create(http: httpx.Client, url: str = URL, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    response = call(http, "POST", WEBHOOKS, body)
    assert response.status_code == 200, response.text
    return dict(response.json())


# -- endpoints -------------------------------------------------------------------------------------


def test_create_list_update_delete(http: httpx.Client) -> None:
    assert call(http, "GET", WEBHOOKS).json() == []
    made = create(http, events=["payment.completed", "account.created"])
    assert re.fullmatch(r"wh_[0-9a-f]{24}", made["id"])
    assert made == {"id": made["id"], "url": URL, "events": ["account.created", "payment.completed"],
                    "failureCount": 0, "disabled": False}
    assert call(http, "GET", WEBHOOKS).json() == [made]

    patched = call(http, "PATCH", f"{WEBHOOKS}/{made['id']}", {"events": ["*"]})
    assert patched.status_code == 200
    assert patched.json() == {**made, "events": ["*"]}
    unchanged = call(http, "PATCH", f"{WEBHOOKS}/{made['id']}", {})
    assert unchanged.json()["events"] == ["*"]

    deleted = call(http, "DELETE", f"{WEBHOOKS}/{made['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"id": made["id"], "deleted": True}
    assert call(http, "GET", WEBHOOKS).json() == []


def test_events_default_to_none_and_newer_events_are_accepted(http: httpx.Client) -> None:
    assert create(http)["events"] == []
    newer = create(http, events=["onramp.completed", "achDebitReturn.created"])
    assert newer["events"] == ["achDebitReturn.created", "onramp.completed"]


def test_ids_are_unique(http: httpx.Client) -> None:
    ids = {create(http, f"{URL}/{i}")["id"] for i in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "url: Field required"),
        ({"url": "ftp://hooks.example.com"}, "url: must be a https:// or http:// URL"),
        ({"url": URL, "events": ["payment.complete"]}, "did you mean 'payment.completed'"),
        ({"url": URL, "events": "payment.completed"}, "events: must be a list of event names"),
        ({"url": URL, "events": ["*", "payment.created"]}, "'*' subscribes to every event"),
        ({"url": URL, "secret": "abc"}, "secret: Extra inputs are not permitted"),
        ([URL], "must be a JSON object"),
    ],
)
def test_create_rules(http: httpx.Client, body: Any, detail: str) -> None:
    assert_problem(call(http, "POST", WEBHOOKS, body), 400, detail)


def test_invalid_json_is_a_bad_request(http: httpx.Client) -> None:
    assert_problem(call(http, "POST", WEBHOOKS, raw=b"{not json"), 400, "not valid JSON")


def test_update_rules(http: httpx.Client) -> None:
    made = create(http, events=["payment.completed"])
    path = f"{WEBHOOKS}/{made['id']}"
    assert_problem(call(http, "PATCH", path, {"url": "https://other.example.com", "events": []}), 400,
                   "URL cannot be changed")
    assert_problem(call(http, "PATCH", path, {"events": ["nope"]}), 400, "unknown event 'nope'")
    assert_problem(call(http, "PATCH", path, {"events": [], "disabled": False}), 400, "disabled: Extra inputs")
    assert call(http, "GET", WEBHOOKS).json()[0]["events"] == ["payment.completed"]


def test_missing_webhooks_are_404_problems_naming_the_resource(http: httpx.Client) -> None:
    for method, body in (("PATCH", {"events": []}), ("DELETE", None)):
        problem = assert_problem(call(http, method, f"{WEBHOOKS}/wh_missing", body), 404, "wh_missing")
        assert problem["resourceType"] == "webhook" and problem["resourceId"] == "wh_missing"
        assert problem["instance"] == "/v1/integrator/webhooks/wh_missing"


def test_there_is_no_get_one_and_unknown_paths_are_404(http: httpx.Client) -> None:
    made = create(http)
    assert_problem(call(http, "GET", f"{WEBHOOKS}/{made['id']}"), 405, "not allowed")
    problem = assert_problem(call(http, "GET", "/spritz/v1/integrator/nothing"), 404, "no endpoint")
    assert problem["resourceType"] == "endpoint"


def test_webhook_secret_post_and_older_put(http: httpx.Client, sb: Sandbox) -> None:
    response = call(http, "POST", SECRET, {"secret": "signing-secret-1"})
    assert response.status_code == 200 and response.json() == {"secretConfigured": True}
    assert sb.apps["spritz"].data["secret"] == "signing-secret-1"
    response = call(http, "PUT", SECRET, {"secret": "signing-secret-2"})
    assert response.json() == {"secretConfigured": True}
    assert sb.apps["spritz"].data["secret"] == "signing-secret-2"
    # Never returned: there is no read.
    assert_problem(call(http, "GET", SECRET), 405, "not allowed")
    assert_problem(call(http, "DELETE", SECRET), 405, "not allowed")


@pytest.mark.parametrize(
    ("body", "detail"),
    [({}, "secret: Field required"), ({"secret": ""}, "secret: must not be empty"),
     ({"secret": " padded "}, "white space"), ({"secret": 12345}, "secret: Input should be a valid string"),
     ({"secret": "ok-secret", "webhookId": "wh_1"}, "webhookId: Extra inputs")],
)
def test_webhook_secret_rules(http: httpx.Client, sb: Sandbox, body: Any, detail: str) -> None:
    assert_problem(call(http, "POST", SECRET, body), 400, detail)
    assert sb.apps["spritz"].data["secret"] is None


def test_legacy_authentication_is_accepted(http: httpx.Client) -> None:
    made = call(http, "POST", WEBHOOKS, {"url": URL}, legacy=True)
    assert made.status_code == 200
    assert call(http, "GET", WEBHOOKS, legacy=True).json() == [made.json()]


# -- authentication ----------------------------------------------------------------------------------


def _auth_problem(response: httpx.Response, detail: str) -> None:
    problem = assert_problem(response, 401, detail)
    assert problem["realm"] == "spritz-integrator" and problem["scope"] == "integrator:webhooks"


BODY = json.dumps({"url": URL}).encode()
NOW = int(time.time() * 1000)


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing bearer API key"),
        ({"Authorization": f"Basic {API_KEY}"}, "missing bearer API key"),
        ({"Authorization": "Bearer "}, "missing bearer API key"),
        ({"Authorization": "Bearer wrong-key"}, "invalid API key"),
        ({"Authorization": f"Bearer {API_KEY}"}, "missing integrator credentials"),
        ({**LEGACY, "X-INTEGRATION-KEY": "int_wrong"}, "invalid integrator key"),
        ({**signed_headers("POST", "/v1/integrator/webhooks", BODY, api_key="wrong")}, "invalid API key"),
        ({k: v for k, v in signed_headers("POST", "/v1/integrator/webhooks", BODY).items()
          if k != "X-Integrator-Key"}, "missing X-Integrator-Key"),
        (signed_headers("POST", "/v1/integrator/webhooks", BODY, key="int_wrong"), "invalid integrator key"),
        ({k: v for k, v in signed_headers("POST", "/v1/integrator/webhooks", BODY).items()
          if k != "X-Timestamp"}, "X-Timestamp must be"),
        ({**signed_headers("POST", "/v1/integrator/webhooks", BODY), "X-Timestamp": "2024-01-01T00:00:00Z"},
         "X-Timestamp must be"),
        (signed_headers("POST", "/v1/integrator/webhooks", BODY, ts=NOW - 6 * 60 * 1000), "5 minutes"),
        (signed_headers("POST", "/v1/integrator/webhooks", BODY, ts=NOW + 6 * 60 * 1000), "5 minutes"),
        (signed_headers("POST", "/v1/integrator/webhooks", BODY, secret="wrong-secret"), "X-Signature does not"),
        (signed_headers("POST", "/v1/integrator/webhooks", b'{"url":"https://evil.example.com"}'),
         "X-Signature does not"),
        (signed_headers("PUT", "/v1/integrator/webhooks", BODY), "X-Signature does not"),
        # The signed path is the documented one, not the sandbox's prefixed path.
        (signed_headers("POST", "/spritz/v1/integrator/webhooks", BODY), "X-Signature does not"),
        ({**signed_headers("POST", "/v1/integrator/webhooks", BODY), "X-Signature": "sha256=00"},
         "X-Signature does not"),
    ],
)
def test_authentication_failures(http: httpx.Client, sb: Sandbox, headers: dict[str, str], detail: str) -> None:
    response = http.post(WEBHOOKS, content=BODY, headers={**headers, "Content-Type": "application/json"})
    _auth_problem(response, detail)
    assert sb.apps["spritz"].webhooks() == []


def test_every_endpoint_requires_authentication(http: httpx.Client) -> None:
    made = create(http)
    for method, path in (("GET", WEBHOOKS), ("POST", WEBHOOKS), ("PATCH", f"{WEBHOOKS}/{made['id']}"),
                         ("DELETE", f"{WEBHOOKS}/{made['id']}"), ("POST", SECRET), ("PUT", SECRET)):
        _auth_problem(http.request(method, path, headers={"Authorization": "Bearer nope"}), "invalid API key")


def test_timestamps_inside_the_window_are_accepted(http: httpx.Client) -> None:
    for skew in (-4 * 60 * 1000, 4 * 60 * 1000):
        headers = signed_headers("GET", "/v1/integrator/webhooks", ts=int(time.time() * 1000) + skew)
        assert http.get(WEBHOOKS, headers=headers).status_code == 200


def test_query_parameters_are_signed_sorted(http: httpx.Client) -> None:
    sorted_headers = signed_headers("GET", "/v1/integrator/webhooks?a=1&b=2")
    assert http.get(f"{WEBHOOKS}?b=2&a=1", headers=sorted_headers).status_code == 200
    unsorted = signed_headers("GET", "/v1/integrator/webhooks?b=2&a=1")
    _auth_problem(http.get(f"{WEBHOOKS}?b=2&a=1", headers=unsorted), "X-Signature does not")
    bare = signed_headers("GET", "/v1/integrator/webhooks")
    _auth_problem(http.get(f"{WEBHOOKS}?a=1", headers=bare), "X-Signature does not")


def test_an_empty_body_signs_the_hash_of_the_empty_string(http: httpx.Client) -> None:
    made = create(http)
    stamp = str(int(time.time() * 1000))
    path = f"/v1/integrator/webhooks/{made['id']}"
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    digest = hmac.new(INTEGRATOR_SECRET.encode(), f"{stamp}.DELETE.{path}.{empty}".encode(),
                      hashlib.sha256).hexdigest()
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Integrator-Key": INTEGRATOR_KEY, "X-Timestamp": stamp,
               "X-Signature": f"sha256={digest}"}
    assert http.delete(f"/spritz{path}", headers=headers).status_code == 200


# -- admin -------------------------------------------------------------------------------------------------


def test_admin_lists_edits_and_removes(http: httpx.Client) -> None:
    made = create(http, events=["payment.completed"])
    assert http.get("/_sandbox/webhooks/spritz").json() == [made]
    edited = http.patch(f"/_sandbox/webhooks/spritz/{made['id']}",
                        json={"disabled": True, "failureCount": 9, "events": ["account.deleted"],
                              "url": "https://dashboard.example.com"})
    assert edited.status_code == 200
    expected = {**made, "disabled": True, "failureCount": 9, "events": ["account.deleted"],
                "url": "https://dashboard.example.com"}
    assert edited.json() == expected
    assert call(http, "GET", WEBHOOKS).json() == [expected]
    assert http.delete(f"/_sandbox/webhooks/spritz/{made['id']}").status_code == 204
    assert call(http, "GET", WEBHOOKS).json() == []
    assert http.delete(f"/_sandbox/webhooks/spritz/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"colour": "red"}, "cannot edit colour"), ({"events": ["nope"]}, "unknown event"),
     ({"url": "mailto:x@example.com"}, "url: must be"), ({"disabled": "yes"}, "disabled: must be true or false"),
     ({"failureCount": -1}, "failureCount: must be a whole number"),
     ({"failureCount": True}, "failureCount: must be a whole number")],
)
def test_admin_edit_rules(http: httpx.Client, changes: dict[str, Any], error: str) -> None:
    made = create(http)
    response = http.patch(f"/_sandbox/webhooks/spritz/{made['id']}", json=changes)
    assert response.status_code == 400 and error in response.json()["error"]
    assert call(http, "GET", WEBHOOKS).json() == [made]


def test_admin_edit_of_a_missing_webhook(http: httpx.Client) -> None:
    assert http.patch("/_sandbox/webhooks/spritz/wh_missing", json={"disabled": True}).status_code == 404


def test_deliveries_are_signed_with_the_integrator_secret(http: httpx.Client) -> None:
    made = create(http, events=["payment.completed", "payment.refunded"])
    unsigned = http.post(f"/_sandbox/deliver/spritz/{made['id']}", json={"send": False}).json()
    assert "Signature" not in unsigned["headers"]
    assert unsigned["url"] == URL
    assert json.loads(unsigned["body"])["type"] == "payment.completed"

    call(http, "POST", SECRET, {"secret": "delivery-secret-1"})
    signed = http.post(f"/_sandbox/deliver/spritz/{made['id']}",
                       json={"send": False, "event": "payment.refunded"}).json()
    body = signed["body"].encode()
    assert json.loads(body)["type"] == "payment.refunded"
    assert signed["headers"]["Signature"] == hmac.new(b"delivery-secret-1", body, hashlib.sha256).hexdigest()
    verify.spritz(signed["headers"], body, secret="delivery-secret-1")
    with pytest.raises(verify.SignatureError):
        verify.spritz(signed["headers"], body, secret="another-secret")


def test_delivery_rules(http: httpx.Client) -> None:
    made = create(http, events=["payment.completed"])
    deliver = f"/_sandbox/deliver/spritz/{made['id']}"
    assert http.post(deliver, json={"send": False, "event": "account.created"}).status_code == 400
    assert http.post(deliver, json={"send": False, "event": "made.up"}).status_code == 400
    everything = create(http, f"{URL}/all", events=["*"])
    answer = http.post(f"/_sandbox/deliver/spritz/{everything['id']}",
                       json={"send": False, "event": "onramp.created"})
    assert answer.status_code == 200 and json.loads(answer.json()["body"])["type"] == "onramp.created"
    http.patch(f"/_sandbox/webhooks/spritz/{made['id']}", json={"disabled": True})
    assert http.post(deliver, json={"send": False}).status_code == 409
    assert http.post("/_sandbox/deliver/spritz/wh_missing", json={"send": False}).status_code == 404


# -- the app as a whole -----------------------------------------------------------------------------------


def test_credentials_and_their_secrecy(sb: Sandbox) -> None:
    app = sb.apps["spritz"]
    assert isinstance(app, SpritzApp)
    assert app.credentials() == {"apiKey": API_KEY, "integratorKey": INTEGRATOR_KEY,
                                 "integratorSecret": INTEGRATOR_SECRET}
    assert app.secret_settings() == {"apiKey", "integratorKey", "integratorSecret"}
    assert INTEGRATOR_KEY.startswith("int_")
    config = sb.stack_config()
    assert config["spritz:baseUrl"] == "http://sandbox.invalid/spritz"
    assert {"spritz:apiKey", "spritz:integratorKey", "spritz:integratorSecret"} <= set(sb.secret_config_keys())


def test_state_survives_a_restart_and_the_journal_holds_no_secret(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = Sandbox(state_path=str(state), base_url=SANDBOX_URL, seed=3)
    with sandbox_client(first) as http:
        made = create(http, events=["payment.completed"])
        call(http, "POST", SECRET, {"secret": "persisted-secret-1"})
    journal = json.dumps(first.journal)
    for value in (API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET, "persisted-secret-1"):
        assert value not in journal
    second = Sandbox(state_path=str(state), base_url=SANDBOX_URL, seed=3)
    assert second.apps["spritz"].webhooks() == [made]
    assert second.apps["spritz"].data["secret"] == "persisted-secret-1"
    second.reset()
    assert second.apps["spritz"].webhooks() == [] and second.apps["spritz"].data["secret"] is None


def test_injected_faults_use_the_problem_envelope(http: httpx.Client, sb: Sandbox) -> None:
    http.post("/_sandbox/faults", json={"provider": "spritz", "status": 503, "count": 1, "retry_after": 2})
    response = call(http, "GET", WEBHOOKS)
    assert_problem(response, 503, "injected fault")
    assert response.headers["Retry-After"] == "2"
    assert call(http, "GET", WEBHOOKS).status_code == 200
