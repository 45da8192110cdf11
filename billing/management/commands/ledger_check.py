from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.selectors import ledger_mismatches


class Command(BaseCommand):
    help = (
        "Verify every wallet: balance == sum(entries), reserved == sum(open holds). Exit 1 if not."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = ledger_mismatches()
        for mismatch in mismatches:
            self.stderr.write(str(mismatch))
        if mismatches:
            raise CommandError(f"ledger check failed: {len(mismatches)} mismatch(es)")
        self.stdout.write("ledger check passed")
