"""Reading a provider's server-sent events, as the SSE standard defines them.

Network reads split events anywhere (mid-line, mid-`\\r\\n`); the parser buffers until a line
is whole. An event's `data:` lines are joined with newlines and the event is dispatched at
the blank line that ends it; comments (`:`) and other fields are skipped. Lines may end in
`\\n`, `\\r\\n` or `\\r`. An event still open when the stream ends is dispatched too: some
providers omit the last blank line.
"""

from collections.abc import AsyncGenerator, AsyncIterator

from proxy.providers.base import ProviderFormatError


def _field_value(line: bytes) -> bytes | None:
    """The value of a `data` line (one optional space after the colon), else None."""
    if line == b"data":
        return b""
    if not line.startswith(b"data:"):
        return None
    value = line[5:]
    return value[1:] if value.startswith(b" ") else value


def _whole_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines in `buffer`, and the rest. A trailing \r stays in the rest: it may be
    the first half of \r\n."""
    text = buffer.replace(b"\r\n", b"\n")
    held = b"\r" if text.endswith(b"\r") else b""
    *lines, rest = text[: len(text) - len(held)].replace(b"\r", b"\n").split(b"\n")
    return lines, rest + held


class SseParser:
    def __init__(self, *, line_limit: int) -> None:
        self._line_limit = line_limit
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event completed by this chunk."""
        self._buffer += chunk
        # A trailing \r may be the first half of \r\n: wait for the next byte.
        complete, self._buffer = _whole_lines(self._buffer)
        if len(self._buffer) > self._line_limit:
            raise ProviderFormatError(f"an event is larger than {self._line_limit} bytes")
        events = []
        for line in complete:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[bytes]:
        """Whatever event the stream left open (its last line may lack a line end)."""
        last_line, self._buffer = self._buffer.rstrip(b"\r"), b""
        events = self.feed(last_line + b"\n\n") if last_line or self._data else []
        return events

    def _line(self, line: bytes) -> bytes | None:
        if not line:
            if not self._data:
                return None
            event, self._data = b"\n".join(self._data), []
            return event
        value = _field_value(line)
        if value is not None:
            self._data.append(value)
        return None


async def sse_data(chunks: AsyncIterator[bytes], *, line_limit: int) -> AsyncGenerator[bytes, None]:
    """The data of each event of a stream. A line longer than `line_limit` bytes fails the
    stream rather than filling memory."""
    parser = SseParser(line_limit=line_limit)
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event
