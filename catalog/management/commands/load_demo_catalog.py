from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.services import demo_catalog_load, known_providers_load


class Command(BaseCommand):
    help = (
        "Load (or refresh) the demo catalog served by the simulated providers, and the real "
        "providers ready to enable with their API keys. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SWITCHYARD_ENV == "production":
            raise CommandError(
                "The demo catalog routes to simulated providers: not in production. "
                "Configure real providers (`sync_catalog --provider <slug>`) instead."
            )
        created = demo_catalog_load(simulator_url=settings.SIMULATOR_URL)
        summary = ", ".join(f"{count} {kind}" for kind, count in created.items())
        self.stdout.write(f"Demo catalog loaded from {settings.SIMULATOR_URL} (new: {summary}).")
        count = known_providers_load()
        self.stdout.write(
            f"{count} real providers ready: set a provider's API key, then run "
            "`manage.py sync_catalog --provider <slug>` to import its models."
        )
