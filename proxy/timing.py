"""Where the gateway's own time goes, on every answer: the `Server-Timing` header.

Phases, in order: auth (key lookup), routing (body parsed, limits, plan), hold (the wallet
reservation), upstream (until the provider's first answer: the whole answer, or a stream's
first chunk), settle (the charge and the generation record; not in a stream's header, which
is sent before it happens). `gateway` is the sum of the phases that are not upstream: the
overhead a client pays for going through Switchyard.
"""

import time

HEADER = b"server-timing"
UPSTREAM = "upstream"


class PhaseTimer:
    __slots__ = ("_last", "durations", "started_at")

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self._last = started_at
        self.durations: dict[str, float] = {}  # phase -> seconds

    def mark(self, phase: str) -> None:
        """`phase` ends now (it began when the one before ended)."""
        now = time.monotonic()
        self.durations[phase] = self.durations.get(phase, 0.0) + (now - self._last)
        self._last = now

    def gateway_s(self) -> float:
        return sum(s for phase, s in self.durations.items() if phase != UPSTREAM)

    def header(self) -> tuple[bytes, bytes]:
        phases = [f"{phase};dur={s * 1000:.3f}" for phase, s in self.durations.items()]
        phases.append(f"gateway;dur={self.gateway_s() * 1000:.3f}")
        return HEADER, ", ".join(phases).encode()
