"""Auto top-up: when a wallet's balance falls below its threshold, charge the saved card
off-session, once.

Many triggers may fire at once (every request that crosses the threshold, and the periodic
check). One charge at most is in flight per wallet: the database refuses a second auto top-up
purchase while one is still awaiting payment. A card declined `AUTO_TOPUP_MAX_FAILURES` times
in a row turns auto top-up off, and the user is told by e-mail and on the credits page.
"""

import logging
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from billing import stripe_api
from billing.models import AutoTopUp, CreditPurchase, StripeCustomer, Wallet
from billing.money import format_usd, usd_to_nanos
from billing.purchases import PurchaseRefused, payment_intent_apply, purchase_quote
from billing.services import wallet_get_or_create
from marketplace.accounts.models import User

logger = logging.getLogger(__name__)


class NoSavedCard(ValueError):
    pass


def auto_topup_configure(
    *, user: User, enabled: bool, threshold_usd: Decimal, amount_usd: Decimal
) -> AutoTopUp:
    """Turn auto top-up on (with the card saved by a purchase) or off."""
    quote = purchase_quote(amount_usd)  # the same range as the credits page
    if threshold_usd < 0:
        raise PurchaseRefused("The threshold cannot be negative")
    customer = StripeCustomer.objects.filter(user=user).first()
    if enabled and (customer is None or not customer.saved_payment_method_id):
        raise NoSavedCard("Buy credits once with 'save this card' ticked first")
    config, _ = AutoTopUp.objects.update_or_create(
        wallet=wallet_get_or_create(user=user),
        defaults={
            "enabled": enabled,
            "threshold_nanos": usd_to_nanos(threshold_usd),
            "amount_nanos": quote.amount_nanos,
            "payment_method_id": customer.saved_payment_method_id if customer else "",
            "consecutive_failures": 0,
            "disabled_reason": "",
        },
    )
    return config


def _start(wallet_id: int) -> tuple[CreditPurchase, AutoTopUp, str] | None:
    """The auto top-up purchase to charge now, if one is due and none is in flight."""
    with transaction.atomic():
        config = AutoTopUp.objects.select_for_update().filter(wallet_id=wallet_id).first()
        if config is None or not config.enabled:
            return None
        # Locked, so the balance read here is not one that a top-up being credited right now
        # is about to raise: by the time this inserts, that purchase may no longer be in
        # flight, and nothing else would stop a second charge.
        wallet = Wallet.objects.select_for_update().get(pk=wallet_id)
        if wallet.balance_nanos >= config.threshold_nanos:
            return None
        customer = StripeCustomer.objects.get(user_id=wallet.user_id)
        quote = purchase_quote(Decimal(config.amount_nanos) / 10**9)
        try:
            with transaction.atomic():
                purchase = CreditPurchase.objects.create(
                    wallet=wallet,
                    kind=CreditPurchase.Kind.AUTO_TOPUP,
                    amount_nanos=quote.amount_nanos,
                    fee_nanos=quote.fee_nanos,
                    total_cents=quote.total_cents,
                )
        except IntegrityError:
            return None  # another trigger's charge is in flight
    return purchase, config, customer.customer_id


def auto_topup_run(wallet_id: int) -> CreditPurchase | None:
    """Charge the saved card if the wallet is below its threshold; the purchase, if any."""
    started = _start(wallet_id)
    if started is None:
        return None
    purchase, config, customer_id = started
    try:
        intent = stripe_api.payment_intent_charge(
            purchase_id=purchase.pk,
            customer_id=customer_id,
            payment_method_id=config.payment_method_id,
            total_cents=purchase.total_cents,
            off_session=True,
        )
    except stripe.StripeError as error:
        # Left awaiting payment, it would block every later top-up of this wallet (should
        # Stripe have charged after all, the webhook still credits the purchase).
        logger.exception("auto top-up charge of wallet %d failed", wallet_id)
        applied = _failed(purchase, f"Stripe refused the charge: {error.user_message or error}")
        if not isinstance(error, stripe.InvalidRequestError | stripe.CardError):
            return applied  # Stripe unreachable or failing: no fault of the card's
    else:
        applied = payment_intent_apply(intent) or purchase
        if applied.status == CreditPurchase.Status.CREATED:
            # Neither paid nor declined (e.g. the bank wants the user): not a charge in flight.
            applied = _failed(
                applied, f"The payment needs the card holder ({intent.get('status')})"
            )
    _count_outcome(config.pk, applied)
    return applied


def _failed(purchase: CreditPurchase, message: str) -> CreditPurchase:
    """Mark a purchase still awaiting payment as failed; the purchase as it is now."""
    CreditPurchase.objects.filter(pk=purchase.pk, status=CreditPurchase.Status.CREATED).update(
        status=CreditPurchase.Status.FAILED, failure_message=message
    )
    return CreditPurchase.objects.get(pk=purchase.pk)


def _count_outcome(config_id: int, purchase: CreditPurchase) -> None:
    with transaction.atomic():
        config = AutoTopUp.objects.select_for_update().get(pk=config_id)
        if purchase.status == CreditPurchase.Status.SUCCEEDED:
            config.consecutive_failures = 0
            config.save(update_fields=["consecutive_failures", "updated_at"])
            return
        config.consecutive_failures += 1
        turned_off = config.consecutive_failures >= settings.AUTO_TOPUP_MAX_FAILURES
        if turned_off:
            config.enabled = False
            config.disabled_reason = (
                f"Turned off after {config.consecutive_failures} failed charges: "
                f"{purchase.failure_message}"
            )[:300]
        config.save()
    if turned_off:
        _tell_user(config, purchase)


def _tell_user(config: AutoTopUp, purchase: CreditPurchase) -> None:
    user = config.wallet.user
    send_mail(
        "Switchyard: auto top-up turned off",
        f"Your card was declined {config.consecutive_failures} times in a row "
        f"({purchase.failure_message}), so automatic top-ups of "
        f"${format_usd(config.amount_nanos)} are off. Update your card on the credits page.",
        None,
        [user.email],
    )
    logger.warning("auto top-up of wallet %d turned off: %s", config.wallet_id,
                   config.disabled_reason)  # fmt: skip


def wallets_due_for_topup() -> list[int]:
    """Wallets with auto top-up on whose balance is below the threshold."""
    from django.db.models import F

    return list(
        AutoTopUp.objects.filter(
            enabled=True, wallet__balance_nanos__lt=F("threshold_nanos")
        ).values_list("wallet_id", flat=True)
    )
