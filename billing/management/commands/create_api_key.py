from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.money import MoneyError, usd_to_nanos
from billing.services import credits_grant, wallet_get_or_create
from marketplace.accounts.services import user_get_or_create
from marketplace.keys.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user (created if needed); prints the key as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="default")
        parser.add_argument("--credits", type=Decimal, help="Grant this many USD of credit")
        parser.add_argument("--limit", type=Decimal, help="The key's own credit limit in USD")
        parser.add_argument(
            "--limit-reset", choices=["daily", "weekly", "monthly"], help="When the limit resets"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        amount = self._credits_nanos(options["credits"])
        if options["limit_reset"] and options["limit"] is None:
            raise CommandError("--limit-reset needs --limit")
        user, created = user_get_or_create(email=options["email"])
        wallet_get_or_create(user=user)
        if amount:
            credits_grant(user=user, amount_nanos=amount, reference="create_api_key")
            self.stderr.write(f"Granted ${options['credits']} to {user.email}.")
        limit = None if options["limit"] is None else self._usd_nanos(options["limit"], "--limit")
        _, plaintext = api_key_create(
            user=user,
            name=options["name"],
            limit_nanos=limit,
            limit_reset=options["limit_reset"] or "",
        )
        self.stderr.write(f"{'Created' if created else 'Found'} user {user.email}; new key:")
        self.stdout.write(plaintext)

    def _credits_nanos(self, credits: Decimal | None) -> int:
        return 0 if credits is None else self._usd_nanos(credits, "--credits")

    def _usd_nanos(self, usd: Decimal, option: str) -> int:
        try:
            amount = usd_to_nanos(usd)
        except MoneyError as exc:
            raise CommandError(str(exc)) from exc
        if amount <= 0:
            raise CommandError(f"{option} must be positive")
        return amount
