"""Each resource is declared once, as its state model: the provider's flag lists and the resource's
output attributes are derived from it and checked against it; validation runs once per call."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any

import pulumi
import pytest
from pydantic import AfterValidator, BaseModel

from pulumi_webhooks import phonepe, safepay, spritz, velafi
from pulumi_webhooks._fields import Adopts, Output, Payload, Replaces, Secret, WriteOnly, flags_of
from pulumi_webhooks._lifecycle import _HIDDEN, WebhookProvider, WebhookResource
from pulumi_webhooks._registry import PROVIDERS

RESOURCES = [resource for provider in PROVIDERS for resource in provider.resource_classes()]


def _attributes(resource: type) -> set[str]:
    below = resource.__mro__[: resource.__mro__.index(pulumi.dynamic.Resource)]
    return {name for klass in below for name in inspect.get_annotations(klass) if not name.startswith("_")}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r._kind())
def test_output_attributes_are_the_state_fields_and_the_hidden_ones(resource: type[WebhookResource]) -> None:
    provider = resource._provider_class
    hidden = _attributes(WebhookResource)
    assert hidden <= set(_HIDDEN)
    assert _attributes(resource) == set(provider.state_model.model_fields) | hidden


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r._kind())
def test_the_provider_lists_are_the_state_model_markers(resource: type[WebhookResource]) -> None:
    provider = resource._provider_class
    assert issubclass(provider.state_model, provider.args_model)
    flags = flags_of(provider.state_model, provider.args_model.model_fields)
    assert flags.outputs == provider.outputs
    assert flags.replace_on == provider.replace_on
    assert flags.write_only == provider.write_only
    assert flags.secret_properties == provider.secret_properties
    assert (flags.id_output, flags.adopt_argument) == (provider.id_output, provider.adopt_argument)
    # Every output-only field is an Output, and every argument flag sits on an argument.
    assert set(provider.state_model.model_fields) - set(provider.args_model.model_fields) <= set(provider.outputs)
    assert provider.replace_on | provider.write_only <= set(provider.args_model.model_fields)


class _Args(Payload):
    url: str
    token: Annotated[str | None, Secret(), WriteOnly()] = None
    region: Annotated[str, Replaces()] = "eu"
    webhook_id: Annotated[str | None, Adopts(), Output(id=True)] = None


class _State(_Args):
    made_at: Annotated[str | None, Output()] = None


def test_flags_are_read_from_the_fields_in_field_order() -> None:
    flags = flags_of(_State, _Args.model_fields)
    assert flags.outputs == ("webhook_id", "made_at")
    assert flags.replace_on == {"region"} and flags.write_only == {"token"}
    assert flags.secret_properties == ("token",)
    assert (flags.id_output, flags.adopt_argument) == ("webhook_id", "webhook_id")


@pytest.mark.parametrize("name", ["outputs", "replace_on", "write_only", "secret_properties", "id_output",
                                  "adopt_argument"])
def test_a_flag_list_set_by_hand_fails_at_class_creation(name: str) -> None:
    with pytest.raises(TypeError, match=f"sets {name} by hand"):
        type("HandWritten", (WebhookProvider,), {"args_model": _Args, "state_model": _State, name: ()})


def test_a_state_model_must_extend_the_arguments() -> None:
    class Other(Payload):
        url: str

    with pytest.raises(TypeError, match="must extend its args_model"):
        type("Unrelated", (WebhookProvider,), {"args_model": _Args, "state_model": Other})


def test_markers_that_cannot_hold_together_fail() -> None:
    class ReplacingOutput(_Args):
        made_at: Annotated[str | None, Output(), Replaces()] = None

    class Unmarked(_Args):
        made_at: str | None = None

    class TwoIds(_Args):
        other_id: Annotated[str | None, Output(id=True)] = None

    with pytest.raises(TypeError, match="made_at is not an argument, so it cannot be Replaces"):
        flags_of(ReplacingOutput, _Args.model_fields)
    with pytest.raises(TypeError, match="made_at is neither an argument nor marked Output"):
        flags_of(Unmarked, _Args.model_fields)
    with pytest.raises(TypeError, match="one field at most"):
        flags_of(TwoIds, _Args.model_fields)


class _Provider(WebhookProvider[_Args]):
    args_model = _Args
    state_model = _State


def test_a_resource_whose_attributes_are_not_its_state_fails_at_class_creation() -> None:
    attributes = {name: "pulumi.Output[str]" for name in ("url", "token", "region", "webhook_id", "made_on")}
    with pytest.raises(TypeError, match=r"missing \['made_at'\], not fields \['made_on'\]"):
        type("Stale", (WebhookResource,), {"__annotations__": attributes, "_provider_class": _Provider})


# -- how often a value is validated ---------------------------------------------------------

CALLS: Counter[str] = Counter()


def _counted(name: str) -> Any:
    def count(value: str) -> str:
        CALLS[name] += 1
        return value.strip()

    return AfterValidator(count)


class _CountedArgs(Payload):
    url: Annotated[str, _counted("url")]
    description: Annotated[str, _counted("description")] = ""
    label: Annotated[str, _counted("label")] = "x"
    note: Annotated[str, _counted("note")] = "y"
    webhook_id: Annotated[str | None, Adopts(), Output(id=True)] = None


class _CountedProvider(WebhookProvider[_CountedArgs]):
    args_model = _CountedArgs
    state_model = _CountedArgs

    def api_create(self, args: _CountedArgs) -> tuple[str, dict[str, Any]]:
        return "wh_1", {}

    def api_read(self, id_: str, state: Mapping[str, Any]) -> dict[str, Any] | None:
        return None


def test_check_create_and_diff_validate_each_value_once() -> None:
    declared = {"url": " https://a.example ", "description": "d", "label": "l", "note": "n"}
    provider = _CountedProvider()
    CALLS.clear()
    inputs = provider.check({}, declared).inputs
    assert set(CALLS.values()) == {1}, CALLS
    CALLS.clear()
    outs = provider.create(inputs).outs
    assert set(CALLS.values()) == {1}, CALLS
    assert outs is not None
    CALLS.clear()
    assert provider.diff("wh_1", outs, inputs).changes is False
    assert set(CALLS.values()) == {2}, CALLS  # the old value and the new one, whatever the field count


@pytest.mark.parametrize(("args", "body"), [
    (phonepe.WebhookArgs, phonepe.CreateWebhookRequest), (phonepe.WebhookArgs, phonepe.UpdateWebhookRequest),
    (safepay.RaastWebhookArgs, safepay.CreateWebhook), (safepay.RaastWebhookArgs, safepay.UpdateWebhook),
    (spritz.IntegratorWebhookArgs, spritz.CreateWebhookBody), (spritz.IntegratorWebhookArgs, spritz.UpdateWebhookBody),
    (velafi.WebhookArgs, velafi.CreateWebhookBody),
])
def test_a_request_body_made_from_arguments_has_the_rules_the_arguments_were_checked_with(
    args: type[BaseModel], body: type[BaseModel]
) -> None:
    # request_body() does not validate again: each body field must be the argument's own type and rules.
    for name, field in body.model_fields.items():
        declared = args.model_fields[name]
        rules = [m for m in declared.metadata if not isinstance(m, (Secret, Replaces, WriteOnly, Adopts, Output))]
        same = (declared.annotation, rules) == (field.annotation, field.metadata)
        # Or the body takes the same rules optionally (an update may leave a field out).
        optional = not field.metadata and field.annotation == (
            Annotated[(declared.annotation, *rules)] if rules else declared.annotation  # type: ignore[misc]
        ) | None
        assert same or optional, name
