"""How many commands (or pipelines) a Redis client sends: a store's "one round trip per call"."""

from collections.abc import Awaitable
from typing import Any

import pytest
from redis.asyncio.connection import Connection


async def redis_sends_during(call: Awaitable[object], monkeypatch: pytest.MonkeyPatch) -> int:
    """The sends to Redis while `call` is awaited (each is one round trip)."""
    sends = 0
    original = Connection.send_packed_command

    async def counting(self: Connection, *args: Any, **kwargs: Any) -> None:
        nonlocal sends
        sends += 1
        await original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Connection, "send_packed_command", counting)
        await call
    return sends
