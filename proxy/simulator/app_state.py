"""Per-app state of the simulator: its configuration, its stats and the keys that hold them.

Kept apart from ``app.py`` so the handler modules can reach the state without importing the
module that routes to them.
"""

import hashlib
import random
from collections import Counter, deque
from dataclasses import dataclass, field

from aiohttp import web

from proxy.simulator.faults import FaultBoard


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    latency_scale: float
    fault_scale: float


@dataclass(slots=True)
class SimulatorStats:
    """What really reached "upstream", so tests can see it: chat requests per provider (faulted
    or not, in any of the three formats) and per API, embedding requests per provider,
    control-API faults served per provider, and streamed bodies whose client went away before
    the end (proof that a gateway closed its upstream)."""

    chat_requests: Counter[str] = field(default_factory=Counter)
    by_api: Counter[str] = field(default_factory=Counter)
    embedding_requests: Counter[str] = field(default_factory=Counter)
    faults_served: Counter[str] = field(default_factory=Counter)
    abandoned_streams: int = 0
    # SHA-256 of the credential each chat request carried, newest last, per provider: tests
    # can check which key reached "upstream" without the simulator keeping any key.
    auth_sha256: dict[str, deque[str]] = field(default_factory=dict)

    def auth_seen(self, provider: str, credential: str) -> None:
        digest = hashlib.sha256(credential.encode()).hexdigest() if credential else ""
        self.auth_sha256.setdefault(provider, deque(maxlen=50)).append(digest)


CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
RNG_KEY = web.AppKey("simulator_rng", random.Random)
STATS_KEY = web.AppKey("simulator_stats", SimulatorStats)
FAULTS_KEY = web.AppKey("simulator_faults", FaultBoard)
