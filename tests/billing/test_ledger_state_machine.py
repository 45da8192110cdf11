"""Random sequences of top-ups, holds, settles, crashes and expiries against a reference model.

After every step the database's cached counters (maintained by the triggers alone) must equal
the model, and `ledger_mismatches()` must prove them from the rows.
"""

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from billing.models import Hold, LedgerEntry, Wallet
from billing.money import Charge, Usage
from billing.selectors import ledger_mismatches
from billing.services import holds_expire, wallet_credit, wallet_get_or_create
from billing.usage import HoldRefused, HoldRequest, UsageRecord, hold_open, usage_settle
from marketplace.accounts.models import User
from marketplace.asyncdb import DjangoConnectionDb
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH
from marketplace.keys.services import api_key_create

BASE = datetime(2030, 1, 1, tzinfo=UTC)
LIMIT = 2500
DB = DjangoConnectionDb()
_examples = itertools.count()


@dataclass
class ModelHold:
    key: int
    amount: int
    expires: int  # minutes after BASE
    abandoned: bool  # its request "crashed": never settled, only expired
    status: str = "open"


class LedgerMachine(RuleBasedStateMachine):
    """One user, one wallet, two keys: index 0 unlimited, index 1 limited to LIMIT (no reset)."""

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown.
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.example = next(_examples)
        self.user = User.objects.create_user(email=f"machine{self.example}@example.com")
        self.wallet = wallet_get_or_create(user=self.user)
        self.keys = [
            api_key_create(user=self.user, name="free")[0],
            api_key_create(user=self.user, name="capped", limit_nanos=LIMIT)[0],
        ]
        self.limits = [None, LIMIT]
        self.balance = 0
        self.reserved = 0
        self.key_reserved = [0, 0]
        self.key_usage = [0, 0]
        self.holds: dict[str, ModelHold] = {}  # in opening order: draws must not depend on ids
        self.opened = itertools.count()
        self.clock = 0  # minutes after BASE

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- the reference model -------------------------------------------------------------

    def _expected_refusal(self, key: int, amount: int) -> str | None:
        if self.balance - self.reserved < amount:
            return "insufficient_credits"
        limit = self.limits[key]
        if limit is not None and limit - self.key_usage[key] - self.key_reserved[key] < amount:
            return "key_limit_exceeded"
        return None

    def _release(self, hold: ModelHold) -> None:
        self.reserved -= hold.amount
        self.key_reserved[hold.key] -= hold.amount

    def _settleable(self) -> list[str]:
        return [
            hold_id
            for hold_id, hold in self.holds.items()
            if hold.status in ("open", "expired") and not hold.abandoned
        ]

    def _settled(self) -> list[str]:
        return [hold_id for hold_id, hold in self.holds.items() if hold.status == "settled"]

    # --- calls into the system -----------------------------------------------------------

    def _now(self) -> datetime:
        return BASE + timedelta(minutes=self.clock)

    def _open(self, key: int, amount: int, ttl: int, *, abandoned: bool) -> None:
        hold_id = f"gen-{self.example}-{next(self.opened)}"
        request = HoldRequest(
            hold_id=hold_id, wallet_id=self.wallet.pk, api_key_id=self.keys[key].pk,
            amount_nanos=amount, key_period_start=EPOCH, created_at=self._now(),
            expires_at=self._now() + timedelta(minutes=ttl),
        )  # fmt: skip
        expected = self._expected_refusal(key, amount)
        refusal = None
        try:
            with transaction.atomic():
                async_to_sync(hold_open)(DB, request)
        except HoldRefused as refused:
            refusal = refused.reason
        assert refusal == expected, f"a hold of {amount}: refused {refusal}, expected {expected}"
        if refusal is not None:
            return
        self.reserved += amount
        self.key_reserved[key] += amount
        self.holds[hold_id] = ModelHold(key, amount, self.clock + ttl, abandoned)

    def _usage_settle(self, hold_id: str, charge: int) -> bool:
        hold = self.holds[hold_id]
        record = UsageRecord(
            generation_id=hold_id, user_id=self.user.pk, api_key_id=self.keys[hold.key].pk,
            model_slug="acme/m", provider_slug="acme", upstream_id="", streamed=True,
            cancelled=charge == 0, finish_reason="stop", native_finish_reason="stop",
            usage=Usage(1, 1), usage_estimated=False,
            charge=Charge(provider_cost_nanos=charge, fee_nanos=0), latency_ms=1,
            generation_time_ms=1, created_at=self._now(),
        )  # fmt: skip
        return async_to_sync(usage_settle)(DB, record)

    def _settle(self, hold_id: str, charge: int) -> None:
        assert self._usage_settle(hold_id, charge) is True
        hold = self.holds[hold_id]
        if hold.status == "open":
            self._release(hold)
        self.balance -= charge
        self.key_usage[hold.key] += charge
        hold.status = "settled"

    # --- rules ---------------------------------------------------------------------------

    @initialize(amount=st.integers(0, 20_000))
    def first_top_up(self, amount: int) -> None:
        if amount:
            self.top_up(amount)

    @rule(amount=st.integers(1, 5000))
    def top_up(self, amount: int) -> None:
        wallet_credit(
            user=self.user, amount_nanos=amount, kind=LedgerEntry.Kind.TOPUP,
            idempotency_key=f"topup:{uuid.uuid4()}",
        )  # fmt: skip
        self.balance += amount

    @rule(key=st.integers(0, 1), amount=st.integers(1, 2500), ttl=st.integers(1, 8))
    def hold(self, key: int, amount: int, ttl: int) -> None:
        self._open(key, amount, ttl, abandoned=False)

    @rule(key=st.integers(0, 1), amount=st.integers(1, 2500), ttl=st.integers(1, 8))
    def hold_then_crash(self, key: int, amount: int, ttl: int) -> None:
        self._open(key, amount, ttl, abandoned=True)

    @precondition(lambda self: bool(self._settleable()))
    @rule(data=st.data(), percent=st.integers(1, 150))
    def settle(self, data: st.DataObject, percent: int) -> None:
        """Charge a share of the hold: above 100% is an overage, which is charged too."""
        hold_id = data.draw(st.sampled_from(self._settleable()), label="hold")
        self._settle(hold_id, max(1, self.holds[hold_id].amount * percent // 100))

    @precondition(lambda self: bool(self._settleable()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self._settle(data.draw(st.sampled_from(self._settleable()), label="hold"), 0)

    @precondition(lambda self: bool(self._settled()))
    @rule(data=st.data(), charge=st.integers(0, 5000))
    def settle_again(self, data: st.DataObject, charge: int) -> None:
        hold_id = data.draw(st.sampled_from(self._settled()), label="hold")
        assert self._usage_settle(hold_id, charge) is False

    def _sweep(self) -> None:
        due = [h for h in self.holds.values() if h.status == "open" and h.expires < self.clock]
        assert holds_expire(now=self._now()) == len(due)
        for hold in due:
            self._release(hold)
            hold.status = "expired"

    @rule(minutes=st.integers(0, 8))
    def time_passes(self, minutes: int) -> None:
        self.clock += minutes
        self._sweep()

    @precondition(lambda self: any(h.status == "open" for h in self.holds.values()))
    @rule(data=st.data())
    def a_hold_outlives_its_expiry(self, data: st.DataObject) -> None:
        """Sweep just past one open hold's expiry (its request may still settle it)."""
        open_holds = [h for h in self.holds.values() if h.status == "open"]
        hold = data.draw(st.sampled_from(open_holds), label="hold")
        self.clock = max(self.clock, hold.expires + 1)
        self._sweep()

    # --- what must always hold -----------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        wallet = Wallet.objects.values_list("balance_nanos", "reserved_nanos").get(
            pk=self.wallet.pk
        )
        assert wallet == (self.balance, self.reserved)
        keys = ApiKey.objects.filter(user=self.user).order_by("pk")
        assert list(keys.values_list("reserved_nanos", "usage_nanos", "period_usage_nanos")) == [
            (reserved, usage, usage)
            for reserved, usage in zip(self.key_reserved, self.key_usage, strict=True)
        ]
        statuses = dict(Hold.objects.filter(wallet=self.wallet).values_list("id", "status"))
        assert statuses == {hold_id: hold.status for hold_id, hold in self.holds.items()}
        assert ledger_mismatches() == []


@pytest.mark.django_db
def test_the_ledger_agrees_with_a_reference_model() -> None:
    # No shrinking: replaying steps against the database is slow enough that shrinking a
    # failure would outlast the test timeout; a failure prints its (at most 25) steps as run.
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate),
        ),
    )
