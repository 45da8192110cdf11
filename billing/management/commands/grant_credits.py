from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import Wallet
from billing.money import MoneyError, format_usd, usd_to_nanos
from billing.services import credits_grant
from marketplace.accounts.models import User


class Command(BaseCommand):
    help = "Grant USD credit to an existing user's wallet, through the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--usd", required=True, type=Decimal)

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"No user with e-mail {options['email']}")
        try:
            amount = usd_to_nanos(options["usd"])
        except MoneyError as exc:
            raise CommandError(str(exc)) from exc
        if amount <= 0:
            raise CommandError("--usd must be positive")
        credits_grant(user=user, amount_nanos=amount, reference="grant_credits")
        balance = Wallet.objects.get(user=user).balance_nanos
        self.stdout.write(
            f"Granted ${options['usd']} to {user.email}; balance ${format_usd(balance)}"
        )
