"""Reading a provider's server-sent events."""

from collections.abc import AsyncIterator

from proxy.providers.base import ProviderFormatError


async def sse_data(chunks: AsyncIterator[bytes], *, line_limit: int) -> AsyncIterator[bytes]:
    """The payloads of `data:` lines; comments and other fields are skipped. A line longer
    than `line_limit` bytes fails the stream rather than filling memory."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > line_limit:
            raise ProviderFormatError(f"an event is larger than {line_limit} bytes")
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
