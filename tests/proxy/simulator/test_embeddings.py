"""Embeddings: the deterministic vectors, the route, its faults and the official SDK."""

import base64
import hashlib
import math
import struct

import orjson
import pytest
from openai import AsyncOpenAI

from proxy.simulator.embeddings import (
    DEFAULT_DIMENSIONS,
    embedding_vector,
    parse_embedding_request,
)
from proxy.simulator.prompt import InvalidRequest
from proxy.simulator.responder import count_tokens
from tests.proxy.simulator.helpers import Client, JsonDict, run_async, simulator

MODEL = "text-embedding-3-small"
PATH = "/nimbus/v1/embeddings"


def reference_vector(model: str, text: str, dimensions: int) -> list[float]:
    """The documented definition, written out independently."""
    seed = hashlib.sha256(f"{model}\0{text}".encode()).digest()
    words: list[int] = []
    block = 0
    while len(words) < dimensions:
        words += struct.unpack("<8I", hashlib.sha256(seed + struct.pack("<I", block)).digest())
        block += 1
    values = [word / 2**31 - 1 for word in words[:dimensions]]
    norm = math.hypot(*values)
    return [struct.unpack("<f", struct.pack("<f", value / norm))[0] for value in values]


# --- the vectors -----------------------------------------------------------------------


@pytest.mark.parametrize("dimensions", [1, 7, 8, 9, DEFAULT_DIMENSIONS, 4096])
def test_the_vector_follows_its_definition(dimensions: int) -> None:
    vector = embedding_vector(model=MODEL, text="Hello, world", dimensions=dimensions)
    assert vector == reference_vector(MODEL, "Hello, world", dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-6)


def test_vectors_depend_on_model_and_text_only() -> None:
    vector = embedding_vector(model=MODEL, text="cat")
    assert vector == embedding_vector(model=MODEL, text="cat")
    assert vector != embedding_vector(model=MODEL, text="cat ")
    assert vector != embedding_vector(model="text-embedding-3-large", text="cat")
    assert len(vector) == DEFAULT_DIMENSIONS == 256


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        ({"input": "one"}, ("one",)),
        ({"input": ["one", "two"]}, ("one", "two")),
        ({"input": [1, 22, 333]}, ("1 22 333",)),
        ({"input": [[1, 2], [3]]}, ("1 2", "3")),
        ({"input": ""}, ("",)),
    ],
)
def test_inputs(body: JsonDict, texts: tuple[str, ...]) -> None:
    assert parse_embedding_request(orjson.dumps({"model": "m", **body})).texts == texts


@pytest.mark.parametrize(
    "body",
    [
        {"input": "x"},
        {"model": "m"},
        {"model": "m", "input": []},
        {"model": "m", "input": [1, "a"]},
        {"model": "m", "input": [[]]},
        {"model": "m", "input": [True]},
        {"model": "m", "input": "x", "dimensions": 0},
        {"model": "m", "input": "x", "dimensions": 4097},
        {"model": "m", "input": "x", "encoding_format": "hex"},
    ],
)
def test_invalid_requests(body: JsonDict) -> None:
    with pytest.raises(InvalidRequest):
        parse_embedding_request(orjson.dumps(body))


# --- the route -------------------------------------------------------------------------


async def embed(client: Client, body: JsonDict) -> JsonDict:
    response = await client.post(PATH, json={"model": MODEL, **body})
    assert (response.status, response.content_type) == (200, "application/json")
    payload: JsonDict = orjson.loads(await response.read())
    return payload


@run_async
async def test_the_response() -> None:
    texts = ["Hello, world", "second one"]
    async with simulator() as client:
        payload = await embed(client, {"input": texts, "dimensions": 12})
    assert payload["object"] == "list"
    assert payload["model"] == MODEL
    assert payload["data"] == [
        {"object": "embedding", "index": index, "embedding": embedding_vector(
            model=MODEL, text=text, dimensions=12
        )}
        for index, text in enumerate(texts)
    ]  # fmt: skip
    tokens = count_tokens("Hello, world") + count_tokens("second one")
    assert payload["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


@run_async
async def test_base64_holds_the_same_little_endian_float32_values() -> None:
    async with simulator() as client:
        payload = await embed(client, {"input": "cat", "encoding_format": "base64"})
    raw = base64.b64decode(payload["data"][0]["embedding"])
    assert len(raw) == 4 * DEFAULT_DIMENSIONS
    decoded = list(struct.unpack(f"<{DEFAULT_DIMENSIONS}f", raw))
    assert decoded == embedding_vector(model=MODEL, text="cat")


@run_async
async def test_faults_and_directives_apply() -> None:
    async with simulator() as client:
        await client.put("/_control/providers/nimbus", json={"fault": "http_429", "count": 1})
        limited = await client.post(PATH, json={"model": MODEL, "input": "x"})
        forced = await client.post(PATH, json={"model": MODEL, "input": ["a", "[sim:status=503]"]})
        await client.put("/_control/providers/nimbus", json={"fault": "malformed_json", "count": 1})
        malformed = await client.post(PATH, json={"model": MODEL, "input": "x"})
        invalid = await client.post(PATH, json={"model": MODEL})
        unknown = await client.post("/nope/v1/embeddings", json={"model": MODEL, "input": "x"})
        stats = orjson.loads(await (await client.get("/_stats")).read())
        assert (limited.status, limited.headers["Retry-After"]) == (429, "1")
        assert orjson.loads(await limited.read())["error"]["type"] == "rate_limit_error"
        assert forced.status == 503
        assert (malformed.status, await malformed.read()) == (200, b"{not json")
        assert orjson.loads(await invalid.read())["error"]["type"] == "invalid_request_error"
        assert unknown.status == 404
    assert stats["embedding_requests"] == {"nimbus": 4}
    assert stats["by_api"] == {"embeddings": 4}
    assert stats["chat_requests"] == 0
    assert stats["faults_served"] == {"nimbus": 2}


@run_async
async def test_official_sdk_reads_floats_and_base64_alike() -> None:
    async with simulator() as client:
        sdk = AsyncOpenAI(base_url=str(client.make_url("/quanta/v1")), api_key="x", max_retries=0)
        try:
            default = await sdk.embeddings.create(model=MODEL, input=["a b", "c"], dimensions=64)
            floats = await sdk.embeddings.create(
                model=MODEL, input="a b", dimensions=64, encoding_format="float"
            )
        finally:
            await sdk.close()
    expected = embedding_vector(model=MODEL, text="a b", dimensions=64)
    assert default.data[0].embedding == floats.data[0].embedding == expected
    assert default.data[1].embedding == embedding_vector(model=MODEL, text="c", dimensions=64)
    assert (default.usage.prompt_tokens, floats.usage.total_tokens) == (3, 2)
