"""Provider faults without HTTP: parsing a control body, the board's counts, payloads."""

import orjson
import pytest

from proxy.simulator.faults import (
    DEFAULT_SIZE_BYTES,
    PADDING_CHUNK_BYTES,
    Fault,
    FaultBoard,
    FaultName,
    InvalidFault,
    is_loopback,
    padded_body,
    parse_fault,
)

# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"fault": "hang"}, {"fault": "hang", "count": None}),
        ({"fault": "http_500", "count": 3}, {"fault": "http_500", "count": 3}),
        ({"fault": "http_503", "count": None}, {"fault": "http_503", "count": None}),
        ({"fault": "http_429"}, {"fault": "http_429", "retry_after": 1, "count": None}),
        ({"fault": "http_429", "retry_after": 0}, {"fault": "http_429", "retry_after": 0}),
        ({"fault": "error_event"}, {"fault": "error_event", "count": None}),
        ({"fault": "cut_stream"}, {"fault": "cut_stream", "after_chunks": 1}),
        ({"fault": "cut_stream", "after_chunks": 0}, {"fault": "cut_stream", "after_chunks": 0}),
        ({"fault": "malformed_json"}, {"fault": "malformed_json", "count": None}),
        ({"fault": "slow_drip"}, {"fault": "slow_drip", "interval_ms": 50}),
        ({"fault": "huge_body"}, {"fault": "huge_body", "size_bytes": DEFAULT_SIZE_BYTES}),
    ],
)
def test_parse_fault_fills_in_defaults_and_states_only_its_own_options(
    body: dict[str, object], expected: dict[str, object]
) -> None:
    stated = parse_fault(orjson.dumps(body)).as_json()
    assert stated == {"count": None, **expected}


def test_default_huge_body_is_64_mib() -> None:
    assert DEFAULT_SIZE_BYTES == 64 * 1024 * 1024


def test_a_stated_fault_parses_back_to_itself() -> None:
    fault = Fault(FaultName.SLOW_DRIP, count=2, interval_ms=7)
    assert parse_fault(orjson.dumps(fault.as_json())) == fault


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b"{}", "'fault' must be one of: hang, http_500"),
        (b'{"fault": "nope"}', "'fault' must be one of"),
        (b'{"fault": 500}', "'fault' must be one of"),
        (b'{"fault": "http_500", "count": 0}', "'count' must be a positive integer"),
        (b'{"fault": "http_500", "count": -2}', "'count' must be a positive integer"),
        (b'{"fault": "http_500", "count": "2"}', "'count' must be a positive integer"),
        (b'{"fault": "http_500", "count": true}', "'count' must be a positive integer"),
        (b'{"fault": "http_500", "retry_after": 3}', "takes no option retry_after"),
        (b'{"fault": "hang", "size_bytes": 1, "colour": 2}', "takes no option colour, size_bytes"),
        (b'{"fault": "http_429", "retry_after": -1}', "'retry_after' must be a non-negative"),
        (b'{"fault": "http_429", "retry_after": 1.5}', "'retry_after' must be a non-negative"),
        (b'{"fault": "cut_stream", "after_chunks": false}', "'after_chunks' must be"),
        (b'{"fault": "slow_drip", "interval_ms": null}', "'interval_ms' must be"),
        (b'{"fault": "huge_body", "size_bytes": "1"}', "'size_bytes' must be"),
    ],
)
def test_parse_fault_rejects_what_is_not_a_fault(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidFault, match=message):
        parse_fault(raw)


# --- the board -------------------------------------------------------------------------


def test_an_unlimited_fault_stays_until_cleared() -> None:
    board = FaultBoard()
    board.put("nimbus", Fault(FaultName.HANG))
    assert [board.take("nimbus") for _ in range(3)] == [Fault(FaultName.HANG)] * 3
    assert board.take("lumen") is None
    board.clear("nimbus")
    board.clear("nimbus")
    assert board.take("nimbus") is None


def test_a_counted_fault_is_served_count_times_then_gone() -> None:
    board = FaultBoard()
    board.put("nimbus", Fault(FaultName.HTTP_500, count=2))
    assert board.take("nimbus") is not None
    assert board.faults() == {"nimbus": Fault(FaultName.HTTP_500, count=1)}
    assert board.take("nimbus") is not None
    assert board.take("nimbus") is None
    assert board.faults() == {}


def test_put_replaces_and_clear_all_empties() -> None:
    board = FaultBoard()
    board.put("nimbus", Fault(FaultName.HTTP_500, count=5))
    board.put("nimbus", Fault(FaultName.HTTP_503))
    board.put("lumen", Fault(FaultName.HANG))
    assert board.faults() == {"nimbus": Fault(FaultName.HTTP_503), "lumen": Fault(FaultName.HANG)}
    board.clear_all()
    assert board.faults() == {}


# --- loopback --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.20", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
        ("localhost", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(remote: str | None, expected: bool) -> None:
    assert is_loopback(remote) is expected


# --- payloads --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, 14, 15, 16, PADDING_CHUNK_BYTES, 3 * PADDING_CHUNK_BYTES + 7]
)
def test_padded_body_is_exactly_the_size_in_bounded_pieces(size: int) -> None:
    pieces = list(padded_body(prefix=b'{"padding": "', suffix=b'"}', size_bytes=size))
    body = b"".join(pieces)
    assert len(body) == size
    assert all(len(piece) <= PADDING_CHUNK_BYTES for piece in pieces)
    # Framing first; a body too small for it is the framing cut short.
    assert body == (b'{"padding": "' + b"x" * (size - 15) + b'"}')[:size]
    if size >= 15:
        assert orjson.loads(body) == {"padding": "x" * (size - 15)}
