"""The create journal: a create cut short by a crash of its process is finished by the next
process's create of the same resource, never repeated beside it."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pulumi_webhooks import _journal
from pulumi_webhooks._errors import ApiError
from pulumi_webhooks._lifecycle import URN_INPUT, reset_claims

from .test_core_lifecycle import ListingToy, ToyArgs, ToyProvider

URN = "urn:pulumi:dev::shop::pulumi-webhooks:toy.Webhook::orders"
OTHER_URN = "urn:pulumi:dev::shop::pulumi-webhooks:toy.Webhook::refunds"


class Killed(BaseException):
    """The process dies: nothing after this point of the create runs."""


class Crashing(ListingToy):
    """A toy whose process can die before sending a create, or right after the provider made
    the webhook (before its answer is read). One class: the journal is kept per resource kind."""

    kill_after_create = 0
    kill_before_sending = 0
    refuse = False
    sent: list[str] = []
    matched: list[str] = []

    def api_create(self, args: ToyArgs) -> tuple[str, dict[str, Any]]:
        if Crashing.kill_before_sending:
            Crashing.kill_before_sending -= 1
            raise Killed
        if Crashing.refuse:
            raise ApiError("Toy", "create webhook", status=400, message="no")
        Crashing.sent.append(args.url)
        made = super().api_create(args)
        if Crashing.kill_after_create:
            Crashing.kill_after_create -= 1
            raise Killed
        return made

    def api_matches(self, args: ToyArgs) -> list[tuple[str, dict[str, Any]]]:
        Crashing.matched.append(args.url)
        return super().api_matches(args)


@pytest.fixture
def toy() -> Crashing:
    ToyProvider.remote = {}
    ToyProvider.lose_next_create_answers = 0
    ToyProvider.ids = itertools.count(1)
    Crashing.kill_after_create = Crashing.kill_before_sending = 0
    Crashing.refuse = False
    Crashing.sent, Crashing.matched = [], []
    return Crashing()


def next_process() -> None:
    """The engine starts a new provider process for the next `pulumi up`."""
    _journal.forget_journals()
    reset_claims()


def declared(urn: str = URN, **args: Any) -> dict[str, Any]:
    return {"url": "https://a.example", "events": ["order.paid"], URN_INPUT: urn, **args}


def killed(toy: Crashing, props: dict[str, Any], *, before_sending: bool = False) -> None:
    """A create whose process dies: before its request leaves, or once the provider made it."""
    if before_sending:
        Crashing.kill_before_sending = 1
    else:
        Crashing.kill_after_create = 1
    with pytest.raises(Killed):
        toy.create(props)


def test_a_create_killed_after_the_provider_made_it_is_taken_not_repeated(toy: Crashing) -> None:
    killed(toy, declared())
    assert list(ToyProvider.remote) == ["wh_1"]
    next_process()
    created = toy.create(declared())
    assert created.id == "wh_1"
    assert list(ToyProvider.remote) == ["wh_1"], "the interrupted create was repeated"


def test_a_create_whose_answer_never_reached_the_state_is_taken_without_a_request(toy: Crashing) -> None:
    first = toy.create(declared())  # answered, but the CLI died before it wrote the state
    next_process()
    Crashing.sent.clear()
    again = toy.create(declared())
    assert again.id == first.id and Crashing.sent == []
    assert list(ToyProvider.remote) == [first.id]


def test_a_declaration_changed_since_the_crash_is_applied_to_what_was_made(toy: Crashing) -> None:
    killed(toy, declared())
    next_process()
    created = toy.create(declared(events=["refund.done"]))
    assert created.id == "wh_1"
    assert ToyProvider.remote["wh_1"]["events"] == ["refund.done"]


def test_a_replacement_makes_a_new_webhook_beside_the_one_the_stack_holds(toy: Crashing) -> None:
    old = toy.create(declared(region="eu"))
    next_process()
    assert old.outs is not None
    diff = toy.diff(old.id, old.outs, declared(region="us"))
    assert diff.replaces == ["region"]
    new = toy.create(declared(region="us"))
    assert new.id != old.id
    assert sorted(ToyProvider.remote) == [old.id, new.id]


def test_two_identical_declarations_killed_mid_create_get_one_webhook_each(toy: Crashing) -> None:
    killed(toy, declared(URN))
    killed(toy, declared(OTHER_URN))
    assert sorted(ToyProvider.remote) == ["wh_1", "wh_2"]
    next_process()
    ids = {toy.create(declared(URN)).id, toy.create(declared(OTHER_URN)).id}
    assert ids == {"wh_1", "wh_2"}
    assert sorted(ToyProvider.remote) == ["wh_1", "wh_2"]


def test_one_of_two_identical_creates_made_nothing_so_one_is_made_anew(toy: Crashing) -> None:
    killed(toy, declared(URN))
    killed(toy, declared(OTHER_URN), before_sending=True)
    next_process()
    ids = {toy.create(declared(URN)).id, toy.create(declared(OTHER_URN)).id}
    assert len(ids) == 2 and sorted(ToyProvider.remote) == sorted(ids)


def test_webhooks_held_before_or_made_by_another_stack_here_are_never_taken(toy: Crashing) -> None:
    # Identical webhooks: one held before the crashed create began, one another stack on
    # this machine made after it (its own journal records it).
    ToyProvider.remote["wh_prod"] = {"url": "https://a.example", "events": ["order.paid"], "region": "eu",
                                     "created_at": "t"}
    killed(toy, declared(), before_sending=True)
    next_process()
    staging = toy.create(declared("urn:pulumi:staging::shop::pulumi-webhooks:toy.Webhook::orders"))
    next_process()
    created = toy.create(declared())
    assert created.id not in {"wh_prod", staging.id}
    assert sorted(ToyProvider.remote) == sorted({"wh_prod", staging.id, created.id})


def test_a_refused_create_leaves_no_intent_behind(toy: Crashing) -> None:
    Crashing.refuse = True
    with pytest.raises(ApiError):
        toy.create(declared())
    Crashing.refuse = False
    next_process()
    toy.create(declared())
    assert Crashing.matched == [], "a create answered with a refusal was treated as interrupted"
    killed(toy, declared(OTHER_URN), before_sending=True)
    next_process()
    toy.create(declared(OTHER_URN))
    assert Crashing.matched == ["https://a.example"], "an interrupted create was not looked for"


def test_a_webhook_gone_since_the_crash_is_made_again(toy: Crashing) -> None:
    first = toy.create(declared())
    del ToyProvider.remote[first.id]
    next_process()
    again = toy.create(declared())
    assert again.id != first.id and list(ToyProvider.remote) == [again.id]


def test_without_a_resource_key_nothing_is_journaled(toy: Crashing, tmp_path: Path) -> None:
    toy.create({"url": "https://a.example"})
    assert not list(_journal.journal_dir().glob("*.jsonl"))


def test_the_journal_holds_no_secret_and_shrinks_once_the_stack_holds_what_was_made(toy: Crashing) -> None:
    made = [toy.create(declared(f"{URN}-{i}", secret="s3cr3t-value")) for i in range(5)]
    [path] = list(_journal.journal_dir().glob("*.jsonl"))
    text = path.read_text()
    assert "s3cr3t-value" not in text
    assert all(json.loads(line) for line in text.splitlines())
    next_process()
    for created in made:
        assert created.outs is not None
        toy.diff(created.id, created.outs, declared())  # the next `up` sees them in the state
    next_process()
    toy.read(made[0].id, dict(made[0].outs or {}))  # any first use compacts
    assert path.read_text().strip() == "", path.read_text()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_torn_last_line_is_ignored(toy: Crashing) -> None:
    toy.create(declared())
    [path] = list(_journal.journal_dir().glob("*.jsonl"))
    with path.open("a") as f:
        f.write('{"run": "x", "key": "')
    next_process()
    assert toy.create(declared()).id == "wh_1"
