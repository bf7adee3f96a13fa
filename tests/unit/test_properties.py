"""Property-based: whatever a user passes, check never raises, names the field it rejects,
accepts only what the provider's model accepts, and never calls an API."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_webhooks import _http, _lifecycle
from pulumi_webhooks._lifecycle import PROVIDER_KEY, UNKNOWN, WebhookProvider, WebhookResource, is_unknown
from pulumi_webhooks._registry import PROVIDERS

RESOURCES = [(provider.name, resource) for provider in PROVIDERS for resource in provider.resources]


def provider_of(module: str, name: str) -> WebhookProvider[Any]:
    resource: type[WebhookResource] = getattr(importlib.import_module(f"pulumi_webhooks.{module}"), name)
    return resource._provider_class()


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"check or diff made an HTTP call: {request.method} {request.url}")


class _Refused:
    """Refuses every request and remembers it: a call made on another thread, whose
    AssertionError that thread would swallow, is still seen by the test."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url}")
        return _no_network(request)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.just(UNKNOWN),
    st.sampled_from([
        "https://hooks.example.com/a", "http://hooks.example.com/a", "https://", "ftp://x", " ", "",
        "payment.completed", "pg.order.completed", "ORDER_WEBHOOK", "payments01", "Refunds2024",
        "agg_2288490a-2176-4de5-b373-0ffb6f8e2e6e", "wh_f52d84b4-a140-4a3a-b707-80644232e926", "*",
    ]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=5),
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
)


def news_for(provider: WebhookProvider[Any]) -> st.SearchStrategy[dict[str, Any]]:
    fields = list(provider.args_model.model_fields)
    known = st.fixed_dictionaries({}, optional={f: values for f in fields})
    extra = st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k not in fields), values, max_size=2)
    return st.tuples(known, extra).map(lambda t: {**t[0], **t[1], PROVIDER_KEY: "provider"})


@pytest.mark.parametrize(("module", "name"), RESOURCES)
def test_check_never_raises_names_fields_and_calls_nothing(module: str, name: str) -> None:
    provider = provider_of(module, name)
    fields = set(provider.args_model.model_fields)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(news=news_for(provider))
    def run(news: dict[str, Any]) -> None:
        refused = _Refused()
        with _http.use_clients(_http.Clients(httpx.MockTransport(refused))):
            try:
                examine(news)
            finally:
                _lifecycle.reset_claims()  # waits for whatever check started in the background
        assert refused.calls == [], refused.calls

    def examine(news: dict[str, Any]) -> None:
        result = provider.check({}, news)
        for failure in result.failures:
            assert failure.reason
            if failure.property:
                assert failure.property in news or failure.property in fields, failure.property
            else:  # a secret's failure: named in the reason, so the engine never prints its value
                field = failure.reason.partition(": ")[0]
                assert field in provider.secret_properties, failure.reason
        if result.failures:
            return
        known = {k: v for k, v in result.inputs.items() if k != PROVIDER_KEY}
        if any(is_unknown(v) for v in known.values()):
            return
        # Accepted means the provider's model accepts it, and checking again changes nothing.
        provider.args_model.model_validate(known)
        again = provider.check({}, {**known, PROVIDER_KEY: "provider"})
        assert again.failures == []
        assert {k: v for k, v in again.inputs.items() if k != PROVIDER_KEY} == known
        # An accepted declaration compared with itself is never a change.
        id_ = (known.get(provider.adopt_argument) if provider.adopt_argument else None) or "id-1"
        assert provider.diff(id_, {**known, PROVIDER_KEY: "p"}, known).changes is False

    run()


@pytest.mark.parametrize(("module", "name"), RESOURCES)
def test_diff_never_raises_and_calls_nothing(module: str, name: str) -> None:
    provider = provider_of(module, name)

    @settings(max_examples=100, deadline=None)
    @given(olds=news_for(provider), news=news_for(provider))
    def run(olds: dict[str, Any], news: dict[str, Any]) -> None:
        with _http.use_clients(_http.Clients(httpx.MockTransport(_no_network))):
            result = provider.diff("id-1", olds, news)
        assert result.changes in (True, False)
        assert set(result.replaces or []) <= set(provider.args_model.model_fields) | set(provider.outputs)

    run()
