"""OpenAI embeddings, simulated: parsing, the deterministic vectors and the response body.

``embedding_vector(model=, text=, dimensions=)`` is the one definition of a vector: a seed
``sha256(model + "\\0" + text)``, then blocks ``sha256(seed + i as 4 little-endian bytes)``
for i = 0, 1, ..., each read as eight little-endian uint32 mapped to [-1, 1); the first
``dimensions`` values, scaled to unit length and rounded to float32 (so the float and the
base64 encodings hold the very same numbers). ``input`` may be a string, a list of strings, a
token-id array or a list of them; a token-id array is embedded as the text of its numbers
joined by spaces (``[1, 2]`` is ``"1 2"``), and costs ``count_tokens`` of it like any text.
"""

import base64
import hashlib
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.simulator.prompt import (
    InvalidRequest,
    JsonObject,
    decode_object,
    is_int,
    positive_int,
    required_str,
)
from proxy.simulator.responder import count_tokens

DEFAULT_DIMENSIONS = 256
MAX_DIMENSIONS = 4096
_UINT32_HALF = 2**31


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    texts: tuple[str, ...]
    dimensions: int = DEFAULT_DIMENSIONS
    as_base64: bool = False


def embedding_vector(*, model: str, text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit-length, float32-exact vector the simulator answers for ``text``."""
    seed = hashlib.sha256(model.encode() + b"\0" + text.encode()).digest()
    values: list[float] = []
    for block in range(math.ceil(dimensions / 8)):
        digest = hashlib.sha256(seed + block.to_bytes(4, "little")).digest()
        values += (word / _UINT32_HALF - 1 for word in struct.unpack("<8I", digest))
    values = values[:dimensions]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return _float32([value / norm for value in values])


def _float32(values: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", _packed(values)))


def _packed(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def encoded_base64(vector: list[float]) -> str:
    """OpenAI's ``encoding_format: "base64"``: the little-endian float32 bytes, base64."""
    return base64.b64encode(_packed(vector)).decode()


def parse_embedding_request(raw: bytes) -> EmbeddingRequest:
    body = decode_object(raw)
    dimensions = positive_int(body, "dimensions") or DEFAULT_DIMENSIONS
    if dimensions > MAX_DIMENSIONS:
        raise InvalidRequest(f"'dimensions' must be at most {MAX_DIMENSIONS}")
    return EmbeddingRequest(
        model=required_str(body, "model"),
        texts=_texts(body.get("input")),
        dimensions=dimensions,
        as_base64=_as_base64(body),
    )


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return tuple(value)
        if all(is_int(item) for item in value):
            return (_token_text(value),)
        if all(isinstance(item, list) and item and all(map(is_int, item)) for item in value):
            return tuple(_token_text(item) for item in value)
    raise InvalidRequest(
        "'input' must be a string, an array of strings, an array of token ids or an array of "
        "token-id arrays, and not empty"
    )


def _token_text(token_ids: list[object]) -> str:
    return " ".join(str(token_id) for token_id in token_ids)


def _as_base64(body: Mapping[str, object]) -> bool:
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidRequest("'encoding_format' must be float or base64")
    return encoding == "base64"


def embeddings_body(request: EmbeddingRequest) -> JsonObject:
    data = []
    for index, text in enumerate(request.texts):
        vector = embedding_vector(model=request.model, text=text, dimensions=request.dimensions)
        encoded = encoded_base64(vector) if request.as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count_tokens(text) for text in request.texts)
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
