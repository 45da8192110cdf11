"""One request's money: hold the most it can cost, then settle what it did cost.

`Call.hold()` runs before anything is forwarded. Every way a request can end (response sent,
provider error, broken stream, client gone, task cancelled) passes through `Call.settle()`,
which charges what the `Outcome` records (nothing, when no output came: zero-completion
insurance) and is shielded from cancellation. Settling twice is a no-op.
"""

import asyncio
import dataclasses
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.money import (
    Charge,
    Usage,
    affordable_completion_tokens,
    fee_nanos,
    format_usd,
    hold_bound_nanos,
    usage_charge,
)
from billing.usage import HoldRefused, HoldRequest, UsageRecord, hold_open, usage_settle
from catalog.selectors import RoutableEndpoint
from marketplace.keys.periods import period_start
from proxy.auth import Principal
from proxy.byok import ByokKeys
from proxy.chat_request import ChatRequest, tokens_estimate
from proxy.errors import InsufficientCredits
from proxy.gateway import Gateway
from proxy.leases import Lease
from proxy.providers import upstream_of
from proxy.providers.base import Upstream
from proxy.response_cache.keys import CacheSlot
from proxy.routing.plan import HEALTHY, RoutePlan, Vitals
from proxy.routing.trace import Attempt, trace_payload
from proxy.timing import PhaseTimer

logger = logging.getLogger(__name__)

NO_CHARGE = Charge(provider_cost_nanos=0, fee_nanos=0)


def generation_id_new() -> str:
    return f"gen-{int(time.time())}-{secrets.token_hex(10)}"


@dataclass(frozen=True, slots=True)
class Bill:
    """What a settled request was billed: the usage counted, and what the user paid for it."""

    usage: Usage
    charge: Charge
    is_byok: bool = False  # served with the user's own provider key: charged only the BYOK fee


@dataclass
class Outcome:
    """What happened upstream, filled in as the response is relayed."""

    usage: Usage | None = None
    usage_estimated: bool = False
    native_finish_reason: str | None = None
    failed: bool = False
    cancelled: bool = False
    upstream_id: str = ""
    first_token_at: float | None = None
    ended_at: float | None = None
    cached: bool = False  # answered from the response cache: billed nothing


@dataclass
class Call:
    """One request on its way through the gateway. `endpoint` is the one being tried (in the
    end: the one that answered, or the last that failed)."""

    gateway: Gateway
    principal: Principal
    request: ChatRequest
    plan: RoutePlan
    generation_id: str
    timer: PhaseTimer  # since the request arrived
    vitals: dict[int, Vitals] = field(default_factory=dict)
    outcome: Outcome = field(default_factory=Outcome)
    bill: Bill | None = None  # set once settled
    trace: list[Attempt] = field(default_factory=list)
    trace_wanted: bool = False
    byok_keys: ByokKeys = field(default_factory=dict, repr=False)
    cache: CacheSlot | None = None  # only when the request asked for the response cache
    lease: Lease | None = None  # held against this process's wallet lease (proxy.leases)
    held_nanos: int = 0
    attempts: tuple[RoutableEndpoint, ...] = field(init=False)
    endpoint: RoutableEndpoint = field(init=False)

    def __post_init__(self) -> None:
        self.attempts = self.plan.attempts
        self.endpoint = self.attempts[0]

    @property
    def started_at(self) -> float:
        return self.timer.started_at

    @property
    def fee_bps(self) -> int:
        return self.endpoint.fee_bps(self.gateway.fee_bps)

    def upstream_of(self, endpoint: RoutableEndpoint) -> Upstream:
        """The endpoint's upstream, with the user's own key on a BYOK attempt."""
        upstream = upstream_of(endpoint)
        if not endpoint.byok:
            return upstream
        return dataclasses.replace(upstream, api_key=self.byok_keys[endpoint.provider_slug].api_key)

    def trace_payload(self) -> dict[str, Any]:
        return trace_payload(self.plan, self.vitals, self.trace)

    def vitals_of(self, endpoint: RoutableEndpoint) -> Vitals:
        return self.vitals.get(endpoint.endpoint_id, HEALTHY)

    def siblings_of(self, endpoint: RoutableEndpoint) -> list[int]:
        """The other endpoints serving the same model (and variant)."""
        return [
            c.endpoint.endpoint_id
            for c in self.plan.considered
            if c.endpoint.model_slug == endpoint.model_slug
            and c.endpoint.variant == endpoint.variant
            and c.endpoint.endpoint_id != endpoint.endpoint_id
        ]

    def completion_bound(self, endpoint: RoutableEndpoint) -> int:
        return self.request.max_tokens or endpoint.max_output_tokens

    def cost_bound(self, endpoint: RoutableEndpoint) -> int:
        # Every prompt token takes at least one byte of the body: a safe upper bound.
        bound = hold_bound_nanos(
            prompt_tokens_bound=self.request.prompt_bytes,
            completion_tokens_bound=self.completion_bound(endpoint),
            prices=endpoint.prices,
            fee_bps=endpoint.fee_bps(self.gateway.fee_bps),
        )
        # With the user's own key, only the BYOK fee on that bound can be charged.
        return fee_nanos(bound, self.gateway.byok_fee_bps) if endpoint.byok else bound

    def hold_amount(self) -> int:
        """Enough for whichever endpoint ends up answering. Fallbacks the wallet could not pay
        for are dropped (as read at authentication; the hold itself re-checks atomically)."""
        available = self.principal.available_nanos
        affordable = tuple(e for e in self.attempts if self.cost_bound(e) <= available)
        self.attempts = affordable or self.attempts[:1]
        self.endpoint = self.attempts[0]
        return max(self.cost_bound(e) for e in self.attempts)

    async def hold(self, *, free: bool = False) -> None:
        """Reserve the worst-case cost (nothing when `free`: a cached answer), or raise
        InsufficientCredits (402)."""
        if self.principal.wallet_id is None:
            raise self._refusal("insufficient_credits")
        self.held_nanos = 0 if free else self.hold_amount()
        leases = self.gateway.leases
        if leases is not None:
            self.lease = await leases.take(self.principal, self.held_nanos)
            if self.lease is not None:
                return
        now = datetime.now(UTC)
        request = HoldRequest(
            hold_id=self.generation_id,
            wallet_id=self.principal.wallet_id,
            api_key_id=self.principal.api_key_id,
            amount_nanos=self.held_nanos,
            key_period_start=period_start(self.principal.limit_reset, now),
            created_at=now,
            expires_at=now + timedelta(seconds=self.gateway.hold_ttl_s),
        )
        try:
            await hold_open(self.gateway.db, request)
        except HoldRefused as refused:
            raise self._refusal(refused.reason) from refused

    def _refusal(self, reason: str) -> InsufficientCredits:
        if reason == "key_limit_exceeded":
            reset = self.principal.limit_reset
            return InsufficientCredits(
                "This API key has reached its credit limit of "
                f"${format_usd(self.principal.limit_nanos or 0)}"
                + (f" (it resets {reset})" if reset else ""),
                metadata={"limit_source": "key_limit"},
            )
        # The balance this request was sized with may be a cached one: money that came back
        # without a notification (a hold released) is seen by the user's next request.
        self.gateway.auth_cache.evict_user(self.principal.user_id)
        affordable = affordable_completion_tokens(
            available_nanos=self.principal.available_nanos,
            prompt_tokens_bound=self.request.prompt_bytes,
            limit=self.completion_bound(self.endpoint),
            prices=self.endpoint.prices,
            fee_bps=self.fee_bps,
        )
        message = "Insufficient credits: add credits to keep using paid models"
        if affordable > 0:
            message = (
                "This request requires more credits, or fewer max_tokens. You requested up to "
                f"{self.completion_bound(self.endpoint)} tokens, but can only afford {affordable}. "
                "Lower max_tokens or add credits."
            )
        return InsufficientCredits(
            message, metadata={"limit_source": "credits", "affordable_max_tokens": affordable}
        )

    def billed_usage(self, completion_bytes: int = 0) -> tuple[Usage, bool]:
        """The usage to bill, and whether it was estimated (no count from the provider)."""
        if self.outcome.usage is not None:
            return self.outcome.usage, False
        if self.outcome.failed and not completion_bytes:
            return Usage(0, 0), False
        estimate = Usage(
            prompt_tokens=tokens_estimate(self.request.prompt_bytes),
            completion_tokens=tokens_estimate(completion_bytes),
        )
        return estimate, True

    async def settle(self, completion_bytes: int = 0) -> Bill:
        """Charge the outcome and close the hold (once); returns what was billed."""
        if self.bill is not None:
            return self.bill
        usage, estimated = self.billed_usage(completion_bytes)
        # Zero-completion insurance: no output and no finish (or a failure) costs nothing.
        finished = self.outcome.native_finish_reason and not self.outcome.failed
        charged = (usage.completion_tokens or finished) and not self.outcome.cached
        charge = self.charge_for(usage) if charged else NO_CHARGE
        self.bill = Bill(usage=usage, charge=charge, is_byok=self.endpoint.byok)
        record = self._record(usage, estimated, charge)
        try:
            # Shielded: a disconnect or cancellation must not lose the charge for what was used.
            await asyncio.shield(self._recorded(record))
        except Exception:
            logger.exception("usage settle failed; the hold expires unsettled: %r", record)
            raise
        return self.bill

    async def _recorded(self, record: UsageRecord) -> None:
        """The generation recorded: with the settling of its own hold, or under the lease
        (which is charged its generations' cost when it closes)."""
        lease = self.lease
        if lease is None:
            await usage_settle(self.gateway.db, record)
            return
        leases = self.gateway.leases
        assert leases is not None
        charged = 0
        try:
            await self.gateway.generations.record(record)
            charged = record.charge.total_nanos
        finally:
            leases.give_back(lease, held_nanos=self.held_nanos, charged_nanos=charged)
        if charged > self.held_nanos:
            logger.warning(
                "billing anomaly: generation %s charged %d nanos over its %d held on lease %s",
                record.generation_id, charged, self.held_nanos, lease.id,
            )  # fmt: skip

    def charge_for(self, usage: Usage) -> Charge:
        charge = usage_charge(usage, self.endpoint.prices, fee_bps=self.fee_bps)
        if not self.endpoint.byok:
            return charge
        # The provider bills the user directly; we charge only a share of what it would cost.
        byok_fee = fee_nanos(charge.total_nanos, self.gateway.byok_fee_bps)
        return Charge(provider_cost_nanos=0, fee_nanos=byok_fee)

    def _record(self, usage: Usage, estimated: bool, charge: Charge) -> UsageRecord:
        now = time.monotonic()
        first = self.outcome.first_token_at or now
        native = self.outcome.native_finish_reason
        return UsageRecord(
            generation_id=self.generation_id,
            user_id=self.principal.user_id,
            api_key_id=self.principal.api_key_id,
            model_slug=self.endpoint.model_slug,
            provider_slug=self.endpoint.provider_slug,
            upstream_id=self.outcome.upstream_id,
            streamed=self.request.stream,
            cancelled=self.outcome.cancelled,
            finish_reason="error" if self.outcome.failed else (native or ""),
            native_finish_reason=native or "",
            usage=usage,
            usage_estimated=estimated,
            charge=charge,
            latency_ms=int((first - self.started_at) * 1000),
            generation_time_ms=int((now - first) * 1000),
            created_at=datetime.now(UTC),
            is_byok=self.endpoint.byok,
            lease_id=None if self.lease is None else self.lease.id,
        )
