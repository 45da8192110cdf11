"""The pure planner's new rules: schema instances, tool calls, tool results, JSON mode, stop
sequences and exact reply pieces."""

from typing import Any, Literal

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from proxy.simulator.prompt import Message, Prompt, ResponseFormat, Tool, ToolChoice
from proxy.simulator.responder import (
    count_tokens,
    plan_completion,
    plan_reply,
    reply_text,
    text_pieces,
)
from proxy.simulator.tool_replies import planned_tool_call, schema_instance
from tests.proxy.simulator.helpers import NIMBUS, WEATHER_ARGUMENTS, WEATHER_TOOL_SCHEMA

USER: Message = {"role": "user", "content": "What is the weather?"}
WEATHER = Tool("get_weather", WEATHER_TOOL_SCHEMA)
TIME = Tool("get_time", {"type": "object", "properties": {"zone": {"type": "string"}}})

# --- schema instances ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "sim"),
        ({"type": "integer"}, 1),
        ({"type": "number"}, 1.5),
        ({"type": "boolean"}, True),
        ({"type": "null"}, None),
        ({"type": "STRING"}, "sim"),
        ({"type": ["null", "integer"]}, 1),
        ({"enum": ["b", "a"], "type": "string"}, "b"),
        ({"const": 7}, 7),
        ({"type": "array", "items": {"type": "boolean"}}, [True]),
        ({"type": "array"}, ["sim"]),
        ({}, "sim"),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 1),
        ({"oneOf": [{"type": "number"}]}, 1.5),
        ({"properties": {"a": {"type": "integer"}}}, {"a": 1}),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                "required": ["b"],
            },
            {"b": "sim"},
        ),
        ({"type": "object", "properties": {}, "required": []}, {}),
        (
            {
                "type": "object",
                "properties": {"inner": {"type": "object", "properties": {"x": {"enum": [3]}}}},
            },
            {"inner": {"x": 3}},
        ),
        (
            {"$defs": {"Unit": {"enum": ["kelvin"]}}, "$ref": "#/$defs/Unit"},
            "kelvin",
        ),
        (WEATHER_TOOL_SCHEMA, WEATHER_ARGUMENTS),
    ],
)
def test_schema_instance_rules(schema: dict[str, Any], expected: object) -> None:
    assert schema_instance(schema) == expected


def test_a_recursive_schema_ends_in_empty_containers() -> None:
    tree = {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
        "required": ["children"],
    }
    instance = schema_instance(tree)
    depth = 0
    while isinstance(instance, dict) and instance.get("children"):
        instance, depth = instance["children"][0], depth + 1
    assert 1 < depth < 20
    assert instance in ({}, {"children": []})
    assert schema_instance({"$ref": "#"}) is None


class Address(BaseModel):
    street: str
    number: int
    kind: Literal["home", "work"]


class Person(BaseModel):
    name: str
    height_m: float
    verified: bool
    nickname: str | None
    addresses: list[Address]
    tags: list[str] = []


def test_the_instance_of_a_pydantic_schema_is_valid_and_parses() -> None:
    schema = Person.model_json_schema()
    instance = schema_instance(schema)
    jsonschema.validate(instance, schema)
    person = Person.model_validate(instance)
    assert person.addresses == [Address(street="sim", number=1, kind="home")]
    assert (person.height_m, person.verified, person.nickname, person.tags) == (
        1.5,
        True,
        "sim",
        [],
    )


# --- tool calls ------------------------------------------------------------------------


def prompt(*messages: Message, **fields: Any) -> Prompt:
    return Prompt(messages=messages or (USER,), **fields)


def test_no_tool_call_without_tools_or_with_choice_none_or_after_a_non_user_message() -> None:
    assert planned_tool_call(prompt()) is None
    assert planned_tool_call(prompt(tools=(WEATHER,), tool_choice=ToolChoice("none"))) is None
    assistant_last = prompt(USER, {"role": "assistant", "content": "Sure"}, tools=(WEATHER,))
    assert planned_tool_call(assistant_last) is None


def test_the_first_tool_is_called_unless_one_is_named() -> None:
    first = planned_tool_call(prompt(tools=(WEATHER, TIME)))
    assert first is not None
    assert (first.id, first.name, first.input) == ("call_sim_1", "get_weather", WEATHER_ARGUMENTS)
    assert first.arguments == '{"city":"sim","unit":"celsius"}'
    named = planned_tool_call(
        prompt(tools=(WEATHER, TIME), tool_choice=ToolChoice(name="get_time"))
    )
    assert named is not None
    assert (named.name, named.input) == ("get_time", {"zone": "sim"})


def test_a_tool_without_parameters_gets_empty_arguments() -> None:
    call = planned_tool_call(prompt(tools=(Tool("ping", {}),)))
    assert call is not None
    assert call.arguments == "{}"


def test_call_ids_count_the_calls_already_made() -> None:
    earlier = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "a"}, {"id": "b"}],
    }
    tool = {"role": "tool", "tool_call_id": "b", "content": "done"}
    call = planned_tool_call(prompt(USER, earlier, tool, USER, tools=(WEATHER,)))
    assert call is not None
    assert call.id == "call_sim_3"


def test_a_tool_call_reply_costs_the_tokens_of_its_arguments() -> None:
    completion = plan_reply(prompt(tools=(WEATHER,)), NIMBUS)
    assert completion.tool_call is not None
    assert completion.content == ""
    assert completion.arguments == completion.tool_call.arguments
    assert completion.completion_tokens == count_tokens(completion.arguments) == 17
    assert len(completion.deltas) >= 2
    assert completion.finish_reason == "tool_calls"


def test_max_tokens_cuts_a_tool_call_short() -> None:
    completion = plan_reply(prompt(tools=(WEATHER,), max_tokens=4), NIMBUS)
    assert (completion.arguments, completion.finish_reason) == ('{"city"', "length")
    assert completion.completion_tokens == 4


def test_a_tool_result_is_acknowledged_even_with_tools() -> None:
    result = {"role": "tool", "tool_call_id": "call_sim_1", "content": '{"temp": 21}'}
    completion = plan_reply(prompt(USER, result, tools=(WEATHER,)), NIMBUS)
    assert completion.tool_call is None
    assert completion.content == 'Tool result received: {"temp": 21}'
    assert completion.finish_reason == "stop"
    parts = {"role": "tool", "content": [{"type": "text", "text": "sunny"}]}
    assert reply_text([USER, parts], NIMBUS) == "Tool result received: sunny"


# --- JSON mode -------------------------------------------------------------------------


def test_json_object_mode_wraps_the_reply() -> None:
    completion = plan_reply(prompt(response_format=ResponseFormat("json_object")), NIMBUS)
    assert orjson.loads(completion.content) == {"reply": reply_text([USER], NIMBUS)}
    assert completion.completion_tokens == count_tokens(completion.content)


def test_json_schema_mode_answers_an_instance() -> None:
    schema = Person.model_json_schema()
    completion = plan_reply(prompt(response_format=ResponseFormat("json_schema", schema)), NIMBUS)
    Person.model_validate_json(completion.content)
    assert orjson.loads(completion.content) == schema_instance(schema)


def test_max_tokens_truncates_json_mode() -> None:
    completion = plan_reply(
        prompt(response_format=ResponseFormat("json_object"), max_tokens=3), NIMBUS
    )
    assert (completion.content, completion.finish_reason) == ('{"reply', "length")


# --- stop sequences and pieces ---------------------------------------------------------


def test_a_stop_sequence_cuts_the_reply_before_it() -> None:
    completion = plan_reply(prompt(stop=("said", "Cloud")), NIMBUS)
    assert completion.content == "Hello from Nimbus "
    assert (completion.finish_reason, completion.stop_sequence) == ("stop", "Cloud")
    assert completion.completion_tokens == 3
    unmatched = plan_reply(prompt(stop=("zebra", "")), NIMBUS)
    assert (unmatched.content, unmatched.stop_sequence) == (reply_text([USER], NIMBUS), None)


def test_max_tokens_before_the_stop_sequence_wins() -> None:
    completion = plan_reply(prompt(stop=("said",), max_tokens=2), NIMBUS)
    assert (completion.content, completion.finish_reason) == ("Hello from", "length")
    assert completion.stop_sequence is None


def test_replies_are_the_exact_reply_text() -> None:
    messages = [{"role": "user", "content": "What's 2+2, e.g. now?"}]
    completion = plan_completion(messages, NIMBUS, None)
    assert completion.content == "Hello from Nimbus Cloud. You said: What's 2+2, e.g. now?"
    assert completion.completion_tokens == count_tokens(completion.content)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_pieces_add_up_to_the_text_one_token_each(text: str) -> None:
    pieces = text_pieces(text)
    assert len(pieces) == count_tokens(text)
    assert "".join(pieces) == (text if pieces else "")
    assert all(count_tokens(piece) == 1 for piece in pieces)
