"""The simulator's pure functions: profiles, token counting, replies, directives."""

import orjson
import pytest

from proxy.simulator.openai_request import parse_chat_request
from proxy.simulator.profiles import PROVIDERS, provider_by_slug
from proxy.simulator.prompt import InvalidRequest
from proxy.simulator.responder import (
    Directives,
    count_tokens,
    parse_directives,
    plan_completion,
    prompt_tokens,
    reply_text,
    strip_directives,
)
from tests.proxy.simulator.helpers import NIMBUS, chat

# --- profiles --------------------------------------------------------------------------


def test_the_five_fictional_providers() -> None:
    profiles = {
        (p.slug, p.name, p.ttft_ms, p.tokens_per_second, p.error_rate_permille) for p in PROVIDERS
    }
    assert profiles == {
        ("nimbus", "Nimbus Cloud", 120, 90, 10),
        ("lumen", "Lumen AI", 250, 60, 5),
        ("quanta", "Quanta Compute", 60, 180, 20),
        ("ember", "Ember Inference", 400, 40, 2),
        ("atlas", "Atlas Serve", 180, 120, 8),
    }
    assert provider_by_slug("atlas") is PROVIDERS[4]
    assert provider_by_slug("nope") is None


# --- responder -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("Hello, world!", 4), ("don't  stop", 4), ("naïve café_2 ok", 3), ("...", 3)],
)
def test_count_tokens(text: str, expected: int) -> None:
    assert count_tokens(text) == expected


def test_prompt_tokens_counts_strings_and_text_parts() -> None:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                {"type": "text", "text": "here!"},
            ],
        },
        {"role": "assistant", "content": None},
    ]
    assert prompt_tokens(messages) == (3 + 3) + (3 + 3) + (0 + 3) + 3


def test_reply_text_echoes_last_user_message_without_directives() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ignored"},
        {"role": "user", "content": "  second\n [sim:slow=5]  message "},
    ]
    assert reply_text(messages, NIMBUS) == "Hello from Nimbus Cloud. You said: second message"


@pytest.mark.parametrize("content", ["", "   ", "[sim:slow=1]"])
def test_reply_text_says_nothing_for_empty_user_text(content: str) -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": content}]
    assert reply_text(messages, NIMBUS) == "Hello from Nimbus Cloud. You said: nothing"


def test_plan_completion_stops_naturally() -> None:
    completion = plan_completion([{"role": "user", "content": "Hi, you!"}], NIMBUS, None)
    assert completion.content == "Hello from Nimbus Cloud. You said: Hi, you!"
    assert completion.deltas[:6] == ("Hello", " from", " Nimbus", " Cloud", ".", " You")
    assert completion.completion_tokens == count_tokens(completion.content) == 12
    assert completion.finish_reason == "stop"


def test_plan_completion_truncates_at_max_tokens() -> None:
    completion = plan_completion([{"role": "user", "content": "Hi"}], NIMBUS, 4)
    assert completion.content == "Hello from Nimbus Cloud"
    assert (completion.completion_tokens, completion.finish_reason) == (4, "length")
    exact = plan_completion([{"role": "user", "content": "Hi"}], NIMBUS, 9)
    assert exact.finish_reason == "stop"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", Directives()),
        ("x [sim:status=503] y", Directives(status=503)),
        ("[sim:status=200][sim:status=999]", Directives()),
        ("[sim:hang]", Directives(hang=True)),
        ("[sim:cut=3]", Directives(cut=3)),
        ("[sim:malformed]", Directives(malformed=True)),
        ("[sim:slow=250][sim:slow=50][sim:cut=0]", Directives(slow_ms=50, cut=0)),
        ("[sim:delay=120]", Directives(delay_ms=120)),
        ("[sim:delay=5] [sim:slow=7] [sim:delay=9]", Directives(slow_ms=7, delay_ms=9)),
        ("[sim:delay=] [sim:delay=-1]", Directives()),
        ("[sim:bogus] [sim:cut=x]", Directives()),
    ],
)
def test_parse_directives(text: str, expected: Directives) -> None:
    assert parse_directives(text) == expected


def test_strip_directives_leaves_unknown_brackets() -> None:
    assert strip_directives("a [sim:hang]b [sim:bogus]") == "a b [sim:bogus]"


def test_the_delay_directive_is_not_echoed() -> None:
    messages = [{"role": "user", "content": "go [sim:delay=100] on"}]
    assert reply_text(messages, NIMBUS) == "Hello from Nimbus Cloud. You said: go on"


@pytest.mark.parametrize(
    "raw",
    [
        b"{oops",
        b"[]",
        b'{"messages": [{"role": "user", "content": "x"}]}',
        b'{"model": "m", "messages": []}',
        b'{"model": "m"}',
        b'{"model": "m", "messages": ["x"]}',
        b'{"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}',
        b'{"model": "m", "messages": [{"role": "user"}], "stream": "yes"}',
    ],
)
def test_parse_chat_request_rejects_invalid_bodies(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_chat_request(raw)


def test_parse_chat_request_prefers_max_completion_tokens() -> None:
    body = chat(max_tokens=9, max_completion_tokens=2, stream_options={"include_usage": True})
    request = parse_chat_request(orjson.dumps(body))
    assert (request.prompt.max_tokens, request.stream, request.include_usage) == (2, False, True)
