"""The fictional upstream providers the simulator impersonates."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimulatedProvider:
    slug: str
    name: str
    ttft_ms: int
    tokens_per_second: int
    error_rate_permille: int


PROVIDERS: tuple[SimulatedProvider, ...] = (
    SimulatedProvider(
        "nimbus", "Nimbus Cloud", ttft_ms=120, tokens_per_second=90, error_rate_permille=10
    ),
    SimulatedProvider(
        "lumen", "Lumen AI", ttft_ms=250, tokens_per_second=60, error_rate_permille=5
    ),
    SimulatedProvider(
        "quanta", "Quanta Compute", ttft_ms=60, tokens_per_second=180, error_rate_permille=20
    ),
    SimulatedProvider(
        "ember", "Ember Inference", ttft_ms=400, tokens_per_second=40, error_rate_permille=2
    ),
    SimulatedProvider(
        "atlas", "Atlas Serve", ttft_ms=180, tokens_per_second=120, error_rate_permille=8
    ),
)

_BY_SLUG: dict[str, SimulatedProvider] = {provider.slug: provider for provider in PROVIDERS}


def provider_by_slug(slug: str) -> SimulatedProvider | None:
    return _BY_SLUG.get(slug)
