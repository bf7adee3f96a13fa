"""Token churn with the real engine: tokens refused one after another (expired between
fetch and use) are renewed each time, and `up` neither fails nor makes a duplicate."""

from __future__ import annotations

import pytest

from pulumi_webhooks import phonepe, velafi

from .conftest import StackFactory
from .harness import changes

URL = "https://hooks.example.com/churn"
TOKEN_PATH = {"velafi": "token", "phonepe": "oauth/token"}


def program() -> None:
    velafi.Webhook("velafi", event_type="ORDER_WEBHOOK", url=f"{URL}/velafi")
    phonepe.Webhook("phonepe", url=f"{URL}/phonepe", events=["pg.order.completed"], username="churn01",
                    password="Churn01pass")


@pytest.mark.parametrize("provider", ["velafi", "phonepe"])
def test_tokens_refused_in_a_row_are_renewed_each_time(engine_stack: StackFactory, provider: str) -> None:
    stack = engine_stack(program)
    # Three refusals in a row, on whatever call comes next after a token was fetched.
    stack.add_fault(provider=provider, path=f"^(?!.*{TOKEN_PATH[provider]})", status=401, count=3)
    assert changes(stack.up()) == {"create": 3}
    stack.clear_faults()
    assert len(stack.webhooks(provider)) == 1
    fetched = [r for r in stack.journal(provider=provider) if TOKEN_PATH[provider] in r["path"]]
    assert len(fetched) >= 4, fetched  # the first token and one per refusal
    assert changes(stack.preview()) == {}
