"""Provider faults set at run time through the simulator's control API.

``PUT /_control/providers/{slug}`` with ``{"fault": NAME, "count": n, ...options}`` stores a
:class:`Fault` on the :class:`FaultBoard`; every later chat or embedding request to that
provider, in any wire format (or only the next ``n``; ``count`` absent or null means until
cleared) gets the fault instead of the usual answer. Options are non-negative integers; a
fault accepts only its own:

==============  ===========================  ==================================================
fault           option (default)             what the client sees (streaming / not)
==============  ===========================  ==================================================
hang                                         no response headers, until it gives up
http_500/503                                 that status, OpenAI-style JSON error
http_429        retry_after (1) seconds      429, ``Retry-After``, JSON error
error_event                                  200; one SSE error event / a JSON ``{"error"}``
                                             body; then the body and the connection end
cut_stream      after_chunks (1)             that many SSE data events, the role chunk
                                             counted, [DONE] never, then a dropped connection /
                                             200 headers, then a dropped connection
malformed_json                               200; ``data: {not json`` / ``{not json``
slow_drip       interval_ms (50)             the usual answer, one byte per interval
huge_body       size_bytes (64 MiB)          200 with exactly that many bytes:
                                             ``data: {"padding": "xx…`` with no newline /
                                             ``{"padding": "xx…"}``
==============  ===========================  ==================================================

The table shows OpenAI's chat route. The Anthropic and Gemini routes send the same faults in
their own shapes: their error bodies, an ``event: error`` (Anthropic) or a ``data:``
``{"error"}`` event (Gemini) for error_event, their first event (``message_start``, or the
first text chunk) counted by cut_stream, and ``event: message_start`` before the broken or
padded ``data:`` line for Anthropic. ``error_event_body`` is OpenAI's.

Everything here is pure; ``fault_serving.py`` serves the faults.
"""

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeGuard

import orjson

JsonObject = dict[str, object]

DEFAULT_RETRY_AFTER_S = 1
DEFAULT_AFTER_CHUNKS = 1
DEFAULT_INTERVAL_MS = 50
DEFAULT_SIZE_BYTES = 64 * 1024 * 1024
# Huge bodies are written in pieces this big, so serving one never holds it in memory.
PADDING_CHUNK_BYTES = 64 * 1024
_PADDING_BLOCK = b"x" * PADDING_CHUNK_BYTES

MALFORMED_JSON = b"{not json"


class FaultName(StrEnum):
    HANG = "hang"
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    HTTP_429 = "http_429"
    ERROR_EVENT = "error_event"
    CUT_STREAM = "cut_stream"
    MALFORMED_JSON = "malformed_json"
    SLOW_DRIP = "slow_drip"
    HUGE_BODY = "huge_body"


# The options each fault accepts in a PUT body (besides "fault" and "count").
FAULT_OPTIONS: Mapping[FaultName, tuple[str, ...]] = {
    FaultName.HTTP_429: ("retry_after",),
    FaultName.CUT_STREAM: ("after_chunks",),
    FaultName.SLOW_DRIP: ("interval_ms",),
    FaultName.HUGE_BODY: ("size_bytes",),
}


class InvalidFault(ValueError):
    """A control request body that does not describe a fault (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Fault:
    name: FaultName
    # Requests still to fault; None faults every request until the fault is cleared.
    count: int | None = None
    retry_after: int = DEFAULT_RETRY_AFTER_S
    # cut_stream: SSE data events sent before the drop, the initial role chunk included.
    after_chunks: int = DEFAULT_AFTER_CHUNKS
    interval_ms: int = DEFAULT_INTERVAL_MS
    size_bytes: int = DEFAULT_SIZE_BYTES

    def as_json(self) -> JsonObject:
        """The fault as a PUT body would state it, with only its own options."""
        options = {option: getattr(self, option) for option in FAULT_OPTIONS.get(self.name, ())}
        return {"fault": self.name.value, **options, "count": self.count}


@dataclass(slots=True)
class FaultBoard:
    """The fault set on each provider. A counted fault is removed once it has been served
    ``count`` times, so the provider is healthy again after it."""

    _faults: dict[str, Fault] = field(default_factory=dict)

    def put(self, slug: str, fault: Fault) -> None:
        self._faults[slug] = fault

    def clear(self, slug: str) -> None:
        self._faults.pop(slug, None)

    def clear_all(self) -> None:
        self._faults.clear()

    def faults(self) -> dict[str, Fault]:
        return dict(self._faults)

    def take(self, slug: str) -> Fault | None:
        """The fault to serve to one request to ``slug``, counting it against ``count``."""
        fault = self._faults.get(slug)
        if fault is None or fault.count is None:
            return fault
        if fault.count <= 1:
            del self._faults[slug]
        else:
            self._faults[slug] = replace(fault, count=fault.count - 1)
        return fault


# --- parsing ---------------------------------------------------------------------------


def parse_fault(raw: bytes) -> Fault:
    body = _decode_object(raw)
    name = _fault_name(body)
    _reject_foreign_options(body, name)
    return Fault(
        name=name,
        count=_count(body),
        retry_after=_non_negative(body, "retry_after", DEFAULT_RETRY_AFTER_S),
        after_chunks=_non_negative(body, "after_chunks", DEFAULT_AFTER_CHUNKS),
        interval_ms=_non_negative(body, "interval_ms", DEFAULT_INTERVAL_MS),
        size_bytes=_non_negative(body, "size_bytes", DEFAULT_SIZE_BYTES),
    )


def _decode_object(raw: bytes) -> Mapping[str, object]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidFault(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidFault("Request body must be a JSON object.")
    return body


def _fault_name(body: Mapping[str, object]) -> FaultName:
    name = body.get("fault")
    if isinstance(name, str) and name in FaultName:
        return FaultName(name)
    known = ", ".join(FaultName)
    raise InvalidFault(f"'fault' must be one of: {known}")


def _reject_foreign_options(body: Mapping[str, object], name: FaultName) -> None:
    allowed = {"fault", "count", *FAULT_OPTIONS.get(name, ())}
    foreign = sorted(set(body) - allowed)
    if foreign:
        raise InvalidFault(f"Fault '{name}' takes no option {', '.join(foreign)}.")


def _count(body: Mapping[str, object]) -> int | None:
    count = body.get("count")
    if count is None:
        return None
    if not _is_int(count) or count < 1:
        raise InvalidFault("'count' must be a positive integer (or null for no limit).")
    return count


def _non_negative(body: Mapping[str, object], option: str, default: int) -> int:
    value = body.get(option, default)
    if not _is_int(value) or value < 0:
        raise InvalidFault(f"'{option}' must be a non-negative integer.")
    return value


def _is_int(value: object) -> TypeGuard[int]:
    # JSON true/false decode to bool, a subclass of int; they are not counts.
    return isinstance(value, int) and not isinstance(value, bool)


# --- control API access ----------------------------------------------------------------


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is this machine (127.0.0.0/8, ::1, or v4-mapped loopback)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


# --- wire payloads ---------------------------------------------------------------------


def error_event_body() -> JsonObject:
    return {
        "error": {
            "message": "Simulated upstream error event.",
            "code": 502,
            "type": "server_error",
        }
    }


def padded_body(*, prefix: bytes, suffix: bytes, size_bytes: int) -> Iterator[bytes]:
    """Exactly ``size_bytes`` bytes, ``prefix`` + ``x`` padding + ``suffix`` (only cut short
    when the size cannot hold them), in pieces of at most ``PADDING_CHUNK_BYTES``."""
    framing = prefix + suffix
    if size_bytes <= len(framing):
        yield framing[:size_bytes]
        return
    yield prefix
    remaining = size_bytes - len(framing)
    while remaining > 0:
        piece = min(remaining, PADDING_CHUNK_BYTES)
        yield _PADDING_BLOCK[:piece]
        remaining -= piece
    yield suffix
