"""Per-app state of the simulator: its configuration, its stats and the keys that hold them.

Kept apart from ``app.py`` so the handler modules can reach the state without importing the
module that routes to them.
"""

import random
from collections import Counter
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


CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
RNG_KEY = web.AppKey("simulator_rng", random.Random)
STATS_KEY = web.AppKey("simulator_stats", SimulatorStats)
FAULTS_KEY = web.AppKey("simulator_faults", FaultBoard)
