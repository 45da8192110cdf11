"""The rest of the public API: legacy text completions, embeddings, the provider and embedding
model lists; every answer checked against OpenAI's own schemas, every refusal JSON."""

from typing import Any

import httpx
import openai
import orjson
import pytest

from catalog.services import known_providers_load
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responder import reply_text
from tests.conformance import assert_conforms

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
EMBEDDING_MODEL = "openai/text-embedding-3-small"


@pytest.fixture
def key(make_account) -> str:
    return str(make_account("5").api_key)


def post(gateway_url: str, path: str, key: str, body: Any) -> httpx.Response:
    return httpx.post(f"{gateway_url}/api/v1/{path}", content=orjson.dumps(body),
                      headers={"authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip


def nimbus_reply(text: str) -> str:
    nimbus = provider_by_slug("nimbus")
    assert nimbus is not None
    return reply_text([{"role": "user", "content": text}], nimbus)


def test_legacy_completions_answer_the_prompt(gateway_url, key):
    client = openai.OpenAI(base_url=f"{gateway_url}/api/v1", api_key=key, max_retries=0)
    completion = client.completions.create(model=MODEL, prompt="Say something")
    assert completion.choices[0].text == nimbus_reply("Say something")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert float((completion.usage.model_extra or {})["cost"]) > 0
    raw = post(gateway_url, "completions", key, {"model": MODEL, "prompt": "Say something"})
    assert_conforms(raw.json(), "CreateCompletionResponse")


def test_legacy_completions_stream(gateway_url, key):
    client = openai.OpenAI(base_url=f"{gateway_url}/api/v1", api_key=key, max_retries=0)
    chunks = list(client.completions.create(model=MODEL, prompt="Stream it", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == nimbus_reply("Stream it")
    assert chunks[-1].usage is not None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": MODEL}, "'prompt'"),
        ({"model": MODEL, "prompt": ["a", "b"]}, "'prompt'"),
        ({"model": MODEL, "prompt": "x", "echo": True}, "echo"),
        ({"model": MODEL, "prompt": "x", "best_of": 3}, "best_of"),
    ],
)
def test_legacy_completions_refuse_what_they_cannot_do(gateway_url, key, body, fragment):
    response = post(gateway_url, "completions", key, body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_chat_stream_chunks_fit_openais_schema(gateway_url, key):
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = post(gateway_url, "chat/completions", key, body)
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        assert_conforms(orjson.loads(event), "CreateChatCompletionStreamResponse")


def test_embeddings_fit_openais_schema_and_are_billed(gateway_url, key, make_account):
    response = post(gateway_url, "embeddings", key, {"model": EMBEDDING_MODEL, "input": "hi"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms(body, "CreateEmbeddingResponse")
    assert body["provider"] == "Nimbus Cloud"  # the cheaper of its two providers
    assert float(body["usage"]["cost"]) > 0
    base64 = post(gateway_url, "embeddings", key,
                  {"model": EMBEDDING_MODEL, "input": ["a", "b"], "encoding_format": "base64",
                   "dimensions": 8})  # fmt: skip
    assert [isinstance(d["embedding"], str) for d in base64.json()["data"]] == [True, True]


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("embeddings", {"model": EMBEDDING_MODEL}, 400, "'input'"),
        ("embeddings", {"model": EMBEDDING_MODEL, "input": []}, 400, "'input'"),
        ("embeddings", {"model": EMBEDDING_MODEL, "input": [1.5]}, 400, "'input'"),
        ("embeddings", {"model": EMBEDDING_MODEL, "input": "x", "dimensions": 0}, 400,
         "dimensions"),
        ("embeddings", {"model": EMBEDDING_MODEL, "input": "x", "encoding_format": "hex"}, 400,
         "encoding_format"),
        ("embeddings", {"model": MODEL, "input": "x"}, 400, "not an embedding model"),
        ("chat/completions", {"model": EMBEDDING_MODEL,
                              "messages": [{"role": "user", "content": "x"}]}, 400,
         "embedding model"),
        ("messages", {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, 400,
         "max_tokens"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_json_400_that_says_why(gateway_url, key, path, body, status, fragment):
    response = post(gateway_url, path, key, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert fragment in response.json()["error"]["message"]


def test_providers_lists_those_that_serve_models(gateway_url):
    known_providers_load()  # real providers, without endpoints until synced
    body = httpx.get(f"{gateway_url}/api/v1/providers").json()
    by_slug = {p["slug"]: p for p in body["data"]}
    assert set(by_slug) == {"nimbus", "lumen", "quanta", "ember", "atlas"}
    assert set(by_slug["nimbus"]) == {"name", "slug", "privacy_policy_url",
                                      "terms_of_service_url", "status_page_url",
                                      "headquarters", "datacenters"}  # fmt: skip
    assert by_slug["nimbus"]["name"] == "Nimbus Cloud"


def test_embedding_models_are_listed_apart_from_chat_models(gateway_url):
    chat = {m["id"] for m in httpx.get(f"{gateway_url}/api/v1/models").json()["data"]}
    embedding = httpx.get(f"{gateway_url}/api/v1/embeddings/models").json()
    assert_conforms(embedding, "ListModelsResponse")
    ids = {m["id"] for m in embedding["data"]}
    assert EMBEDDING_MODEL in ids
    assert not ids & chat
    assert MODEL in chat
