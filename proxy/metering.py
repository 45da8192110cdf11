"""From what a provider reported to what the user is charged, and the record of it."""

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from billing.money import Charge, Prices, Usage, usage_charge
from billing.usage import UsageRecord, usage_settle
from catalog.selectors import RoutableEndpoint
from proxy.auth import Principal
from proxy.chat_request import ChatRequest
from proxy.gateway import Gateway

logger = logging.getLogger(__name__)

# Without a provider count, ~4 bytes of text per token is the usual rule of thumb.
_BYTES_PER_TOKEN_ESTIMATE = 4


def generation_id_new() -> str:
    return f"gen-{int(time.time())}-{secrets.token_hex(10)}"


def tokens_estimate(byte_count: int) -> int:
    return -(-byte_count // _BYTES_PER_TOKEN_ESTIMATE)


@dataclass
class Call:
    """One request on its way through the gateway."""

    gateway: Gateway
    principal: Principal
    request: ChatRequest
    endpoint: RoutableEndpoint
    generation_id: str
    started_at: float

    def charge_for(self, usage: Usage) -> Charge:
        prices = Prices(
            prompt_usd_per_mtok=self.endpoint.prompt_usd_per_mtok,
            completion_usd_per_mtok=self.endpoint.completion_usd_per_mtok,
            request_usd=self.endpoint.request_usd,
        )
        return usage_charge(usage, prices, fee_bps=self.gateway.fee_bps)

    async def settle(
        self, *, usage: Usage, charge: Charge, finish_reason: str | None, upstream_id: str
    ) -> None:
        record = UsageRecord(
            generation_id=self.generation_id,
            user_id=self.principal.user_id,
            api_key_id=self.principal.api_key_id,
            model_slug=self.endpoint.model_slug,
            provider_slug=self.endpoint.provider_slug,
            upstream_id=upstream_id,
            streamed=self.request.stream,
            finish_reason=finish_reason or "",
            usage=usage,
            charge=charge,
            latency_ms=int((time.monotonic() - self.started_at) * 1000),
            created_at=datetime.now(UTC),
        )
        # Shielded: a client that disconnects must not cancel the charge for what it consumed.
        try:
            await asyncio.shield(usage_settle(self.gateway.db, record))
        except Exception:
            logger.exception("usage settle failed; record needs reconciliation: %r", record)
            raise
