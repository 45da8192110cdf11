"""``manage.py simulate_providers``: run the simulated upstream providers (blocking)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from proxy.simulator.server import add_arguments, run


class Command(BaseCommand):
    help = "Serve the simulated upstream LLM providers over HTTP until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run(
            options["host"],
            options["port"],
            options["latency_scale"],
            options["fault_scale"],
            seed=options["seed"],
            on_ready=self._announce,
        )

    def _announce(self, url: str) -> None:
        # Flushed at once: scripts and tests wait for this line before sending traffic.
        self.stdout.write(f"Simulated providers listening on {url}")
        self.stdout.flush()
