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
