"""Periodic ledger work (scheduled by CELERY_BEAT_SCHEDULE in settings)."""

import logging

from celery import shared_task
from django.utils import timezone

from billing.selectors import ledger_mismatches
from billing.services import holds_expire

logger = logging.getLogger(__name__)


@shared_task
def holds_expire_task() -> int:
    expired = holds_expire(now=timezone.now())
    if expired:
        logger.warning("released %d expired hold(s) of requests that died", expired)
    return expired


@shared_task
def ledger_check_task() -> int:
    mismatches = ledger_mismatches()
    for mismatch in mismatches:
        logger.error("LEDGER MISMATCH %s", mismatch)
    return len(mismatches)


@shared_task
def auto_topup_task(wallet_id: int) -> str:
    """Charge one wallet's saved card if it is below its threshold (at most one in flight)."""
    from billing.auto_topup import auto_topup_run

    purchase = auto_topup_run(wallet_id)
    return "nothing due" if purchase is None else purchase.status


@shared_task
def auto_topups_due_task() -> int:
    """Start the auto top-up of every wallet below its threshold."""
    from billing.auto_topup import wallets_due_for_topup

    due = wallets_due_for_topup()
    for wallet_id in due:
        auto_topup_task.delay(wallet_id)
    return len(due)
