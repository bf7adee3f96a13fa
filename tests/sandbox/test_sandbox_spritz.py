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
from pulumi_webhooks.sandbox import HTTPError, Request, Sandbox
from pulumi_webhooks.sandbox._app import Headers
from pulumi_webhooks.sandbox.spritz import API_KEY, INTEGRATOR_KEY, INTEGRATOR_SECRET, SpritzApp

from ..helpers import SANDBOX_URL, sandbox_client

WEBHOOKS = "/spritz/v1/integrator/webhooks"
SECRET = "/spritz/v1/integrator/webhook-secret"
URL = "https://hooks.example.com/spritz"


def signed_headers(method: str, signed_path: str, body: bytes = b"", *, ts: int | None = None,
                   secret: str = INTEGRATOR_SECRET, key: str = INTEGRATOR_KEY,
                   api_key: str = API_KEY) -> dict[str, str]:
    """Headers of a signed request, computed here from the documented scheme (an empty body
    hashes to the empty string)."""
    stamp = str(int(time.time() * 1000) if ts is None else ts)
    body_hash = hashlib.sha256(body).hexdigest() if body else ""
    message = f"{stamp}.{method}.{signed_path}.{body_hash}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"Authorization": f"Bearer {api_key}", "X-Integrator-Key": key, "X-Timestamp": stamp,
            "X-Signature": f"sha256={digest}"}


LEGACY = {"Authorization": f"Bearer {API_KEY}", "X-INTEGRATION-KEY": INTEGRATOR_KEY}


def call(http: httpx.Client, method: str, path: str, body: Any = None, *, legacy: bool = False,
         raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    # The signed path is the request URL's pathname: the sandbox's /spritz prefix included.
    headers = dict(LEGACY) if legacy else signed_headers(method, path, content)
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
    assert isinstance(body["code"], str) and body["code"]
    assert body["retryable"] is (status in (408, 429, 500, 502, 503, 504))
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
    problem = assert_problem(call(http, "POST", WEBHOOKS, body), 400, detail)
    assert problem["code"] == "VALIDATION_ERROR" and problem["retryable"] is False


def test_broken_rules_name_the_field(http: httpx.Client) -> None:
    assert assert_problem(call(http, "POST", WEBHOOKS, {}), 400, "url")["field"] == "url"
    wrong = call(http, "POST", WEBHOOKS, {"url": URL, "events": ["nope"]})
    assert assert_problem(wrong, 400, "unknown event")["field"] == "events"
    made = create(http)
    moved = call(http, "PATCH", f"{WEBHOOKS}/{made['id']}", {"url": "https://other.example.com"})
    assert assert_problem(moved, 400, "cannot be changed")["field"] == "url"


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


def test_webhook_secret_accepts_put_by_default_and_answers_post_with_405(http: httpx.Client, sb: Sandbox) -> None:
    response = call(http, "PUT", SECRET, {"secret": "signing-secret-1"})
    assert response.status_code == 200 and response.json() == {"secretConfigured": True}
    assert sb.apps["spritz"].data["secret"] == "signing-secret-1"
    refused = call(http, "POST", SECRET, {"secret": "signing-secret-2"})
    problem = assert_problem(refused, 405, "not allowed")
    assert problem["code"] == "METHOD_NOT_ALLOWED" and refused.headers["Allow"] == "PUT"
    assert sb.apps["spritz"].data["secret"] == "signing-secret-1"
    # Never returned: there is no read.
    assert_problem(call(http, "GET", SECRET), 405, "not allowed")
    assert_problem(call(http, "DELETE", SECRET), 405, "not allowed")


def test_webhook_secret_verb_switches_to_post_by_admin(http: httpx.Client, sb: Sandbox) -> None:
    switched = http.patch("/_sandbox/webhooks/spritz/webhook-secret", json={"verb": "POST"})
    assert switched.status_code == 200 and switched.json() == {"verb": "POST", "secretConfigured": False}
    assert call(http, "POST", SECRET, {"secret": "signing-secret-3"}).json() == {"secretConfigured": True}
    refused = call(http, "PUT", SECRET, {"secret": "signing-secret-4"})
    assert_problem(refused, 405, "not allowed")
    assert refused.headers["Allow"] == "POST"
    assert sb.apps["spritz"].data["secret"] == "signing-secret-3"
    assert http.patch("/_sandbox/webhooks/spritz/webhook-secret", json={"verb": "PUT"}).json()["verb"] == "PUT"
    assert call(http, "PUT", SECRET, {"secret": "signing-secret-5"}).status_code == 200
    for changes, error in (({"verb": "PATCH"}, "verb: must be PUT or POST"), ({"secret": "x"}, "cannot edit secret")):
        refused = http.patch("/_sandbox/webhooks/spritz/webhook-secret", json=changes)
        assert refused.status_code == 400 and error in refused.json()["error"]


def test_webhook_secret_verb_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_WEBHOOKS_SANDBOX_SPRITZ_SECRET_VERB", "post")
    with sandbox_client(Sandbox(base_url=SANDBOX_URL, seed=2)) as http:
        assert call(http, "POST", SECRET, {"secret": "signing-secret-6"}).status_code == 200
        assert_problem(call(http, "PUT", SECRET, {"secret": "signing-secret-6"}), 405, "not allowed")
    monkeypatch.setenv("PULUMI_WEBHOOKS_SANDBOX_SPRITZ_SECRET_VERB", "PATCH")
    with pytest.raises(ValueError, match="PULUMI_WEBHOOKS_SANDBOX_SPRITZ_SECRET_VERB must be PUT or POST"):
        Sandbox(base_url=SANDBOX_URL)


@pytest.mark.parametrize(
    ("body", "detail"),
    [({}, "secret: Field required"), ({"secret": ""}, "secret: must not be empty"),
     ({"secret": " padded "}, "white space"), ({"secret": 12345}, "secret: Input should be a valid string"),
     ({"secret": "ok-secret", "webhookId": "wh_1"}, "webhookId: Extra inputs")],
)
def test_webhook_secret_rules(http: httpx.Client, sb: Sandbox, body: Any, detail: str) -> None:
    problem = assert_problem(call(http, "PUT", SECRET, body), 400, detail)
    assert problem["field"] == detail.split(":")[0] if ":" in detail else problem["field"] == "secret"
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


def _authentication_cases() -> list[tuple[dict[str, str], str]]:
    # Built when a test runs: timestamps taken at collection can be minutes old by then.
    now = int(time.time() * 1000)
    return [
        ({}, "missing bearer API key"),
        ({"Authorization": f"Basic {API_KEY}"}, "missing bearer API key"),
        ({"Authorization": "Bearer "}, "missing bearer API key"),
        ({"Authorization": "Bearer wrong-key"}, "invalid API key"),
        ({"Authorization": f"Bearer {API_KEY}"}, "missing integrator credentials"),
        ({**LEGACY, "X-INTEGRATION-KEY": "int_wrong"}, "invalid integrator key"),
        ({**signed_headers("POST", WEBHOOKS, BODY, api_key="wrong")}, "invalid API key"),
        ({k: v for k, v in signed_headers("POST", WEBHOOKS, BODY).items()
          if k != "X-Integrator-Key"}, "missing X-Integrator-Key"),
        (signed_headers("POST", WEBHOOKS, BODY, key="int_wrong"), "invalid integrator key"),
        ({k: v for k, v in signed_headers("POST", WEBHOOKS, BODY).items()
          if k != "X-Timestamp"}, "X-Timestamp must be"),
        ({**signed_headers("POST", WEBHOOKS, BODY), "X-Timestamp": "2024-01-01T00:00:00Z"},
         "X-Timestamp must be"),
        (signed_headers("POST", WEBHOOKS, BODY, ts=now - 6 * 60 * 1000), "5 minutes"),
        (signed_headers("POST", WEBHOOKS, BODY, ts=now + 6 * 60 * 1000), "5 minutes"),
        (signed_headers("POST", WEBHOOKS, BODY, secret="wrong-secret"), "X-Signature does not"),
        (signed_headers("POST", WEBHOOKS, b'{"url":"https://evil.example.com"}'),
         "X-Signature does not"),
        (signed_headers("PUT", WEBHOOKS, BODY), "X-Signature does not"),
        # The signed path is the pathname the request went to: the prefix cannot be left out.
        (signed_headers("POST", "/v1/integrator/webhooks", BODY), "X-Signature does not"),
        ({**signed_headers("POST", WEBHOOKS, BODY), "X-Signature": "sha256=" + "0" * 64},
         "X-Signature does not"),
        ({**signed_headers("POST", WEBHOOKS, BODY), "X-Signature": "sha256=00"}, "64 lower-case hex"),
        ({**signed_headers("POST", WEBHOOKS, BODY), "X-Timestamp": "-17"}, "X-Timestamp must be"),
    ]


@pytest.mark.parametrize("case", range(len(_authentication_cases())))
def test_authentication_failures(http: httpx.Client, sb: Sandbox, case: int) -> None:
    headers, detail = _authentication_cases()[case]
    response = http.post(WEBHOOKS, content=BODY, headers={**headers, "Content-Type": "application/json"})
    _auth_problem(response, detail)
    assert sb.apps["spritz"].webhooks() == []


def test_every_endpoint_requires_authentication(http: httpx.Client) -> None:
    made = create(http)
    for method, path in (("GET", WEBHOOKS), ("POST", WEBHOOKS), ("PATCH", f"{WEBHOOKS}/{made['id']}"),
                         ("DELETE", f"{WEBHOOKS}/{made['id']}"), ("PUT", SECRET)):
        _auth_problem(http.request(method, path, headers={"Authorization": "Bearer nope"}), "invalid API key")


def test_timestamps_inside_the_window_are_accepted(http: httpx.Client) -> None:
    for skew in (-4 * 60 * 1000, 4 * 60 * 1000):
        headers = signed_headers("GET", WEBHOOKS, ts=int(time.time() * 1000) + skew)
        assert http.get(WEBHOOKS, headers=headers).status_code == 200


def test_an_upper_case_signature_is_refused(http: httpx.Client) -> None:
    headers = signed_headers("GET", WEBHOOKS)
    headers["X-Signature"] = "sha256=" + headers["X-Signature"].removeprefix("sha256=").upper()
    _auth_problem(http.get(WEBHOOKS, headers=headers), "64 lower-case hex")


def test_query_parameters_are_signed_sorted_and_encoded_as_encode_uri_component(http: httpx.Client) -> None:
    sorted_headers = signed_headers("GET", f"{WEBHOOKS}?a=1&b=2")
    assert http.get(f"{WEBHOOKS}?b=2&a=1", headers=sorted_headers).status_code == 200
    unsorted = signed_headers("GET", f"{WEBHOOKS}?b=2&a=1")
    _auth_problem(http.get(f"{WEBHOOKS}?b=2&a=1", headers=unsorted), "X-Signature does not")
    bare = signed_headers("GET", WEBHOOKS)
    _auth_problem(http.get(f"{WEBHOOKS}?a=1", headers=bare), "X-Signature does not")
    # "+" is a space, re-encoded %20; !*'()~ stay as they are; other bytes are %XX, upper case, UTF-8.
    raw = "q=a+b&z=%C3%A9%2F&m=!*'()~"
    encoded = signed_headers("GET", f"{WEBHOOKS}?m=!*'()~&q=a%20b&z=%C3%A9%2F")
    assert http.get(f"{WEBHOOKS}?{raw}", headers=encoded).status_code == 200
    form = signed_headers("GET", f"{WEBHOOKS}?m=!*'()~&q=a+b&z=%C3%A9%2F")
    _auth_problem(http.get(f"{WEBHOOKS}?{raw}", headers=form), "X-Signature does not")
    lower = signed_headers("GET", f"{WEBHOOKS}?m=!*'()~&q=a%20b&z=%c3%a9%2f")
    _auth_problem(http.get(f"{WEBHOOKS}?{raw}", headers=lower), "X-Signature does not")


def test_a_repeated_query_parameter_is_refused(http: httpx.Client) -> None:
    headers = signed_headers("GET", f"{WEBHOOKS}?a=1&a=2")
    _auth_problem(http.get(f"{WEBHOOKS}?a=1&a=2", headers=headers), "repeated")


def _delete_signed_with(http: httpx.Client, body_hash: str) -> httpx.Response:
    made = create(http)
    stamp = str(int(time.time() * 1000))
    path = f"{WEBHOOKS}/{made['id']}"
    digest = hmac.new(INTEGRATOR_SECRET.encode(), f"{stamp}.DELETE.{path}.{body_hash}".encode(),
                      hashlib.sha256).hexdigest()
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Integrator-Key": INTEGRATOR_KEY, "X-Timestamp": stamp,
               "X-Signature": f"sha256={digest}"}
    return http.delete(path, headers=headers)


def test_no_body_signs_the_empty_string(http: httpx.Client) -> None:
    assert _delete_signed_with(http, "").status_code == 200


def test_no_body_signed_with_the_hash_of_the_empty_string_is_refused(http: httpx.Client) -> None:
    empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    _auth_problem(_delete_signed_with(http, empty_sha256), "X-Signature does not")


#: The official SDK's golden vectors (spritz-finance/api-client, src/lib/hmac.test.ts), secret
#: "test-secret-key-12345", timestamp 1700000000000.
GOLDEN_SECRET = "test-secret-key-12345"
GOLDEN = [
    ("GET", "/v1/users/me", "", b"", "147ecf7209d3d91ca62d3cc190473954120d305b85c007b50976d4fe88551c52"),
    ("POST", "/v1/transactions", "", b'{"amount":100}',
     "12dcf2a7647146ce08a465349ab03f992d8a18542cd576d40a9eb8e2958d4b9f"),
    ("GET", "/v1/on-ramps", "token=USDC&limit=20&network=ethereum", b"",
     "77cc4cdebcc5256d682fb3974346c15e84b289f6a4bb454adaa7f9495d3bbc55"),
]


@pytest.mark.parametrize(("method", "pathname", "query", "body", "expected"), GOLDEN)
def test_the_sandbox_verifies_the_sdk_golden_vectors(
    monkeypatch: pytest.MonkeyPatch, sb: Sandbox, method: str, pathname: str, query: str, body: bytes,
    expected: str,
) -> None:
    from pulumi_webhooks.sandbox import spritz as sandbox_spritz

    monkeypatch.setattr(sandbox_spritz, "INTEGRATOR_SECRET", GOLDEN_SECRET)
    monkeypatch.setattr(time, "time", lambda: 1700000000.0)
    app = sb.apps["spritz"]
    assert isinstance(app, SpritzApp)
    headers = {"authorization": f"Bearer {API_KEY}", "x-integrator-key": INTEGRATOR_KEY,
               "x-timestamp": "1700000000000", "x-signature": f"sha256={expected}"}
    request = Request(method=method, path=pathname, raw_path=pathname, raw_query=query,
                                     headers=Headers(headers), body=body)
    app._authenticate(request)  # raises on a mismatch
    wrong = Request(method=method, path=pathname, raw_path=pathname, raw_query=query,
                                   headers=Headers({**headers, "x-timestamp": "1700000000001"}),
                                   body=body)
    with pytest.raises(HTTPError) as raised:
        app._authenticate(wrong)
    assert raised.value.status == 401


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

    assert call(http, "PUT", SECRET, {"secret": "delivery-secret-1"}).status_code == 200
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
        assert call(http, "PUT", SECRET, {"secret": "persisted-secret-1"}).status_code == 200
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
    problem = assert_problem(response, 503, "injected fault")
    assert problem["code"] == "INJECTED_FAULT" and problem["retryable"] is True
    assert response.headers["Retry-After"] == "2"
    assert call(http, "GET", WEBHOOKS).status_code == 200
