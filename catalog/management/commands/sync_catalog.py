from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.known_providers import KNOWN_BY_SLUG
from catalog.models import Provider
from catalog.selectors import provider_api_key
from catalog.services import known_provider_upsert
from catalog.sync import catalog_sync, fetch_model_list, listed_model


class Command(BaseCommand):
    help = (
        "Import a provider's models and prices from its model-list API (idempotent): "
        "endpoints are created or updated, those it no longer lists deactivated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", required=True, help="provider slug, e.g. openrouter")
        parser.add_argument("--base-url", help="override the provider's API base URL")

    def handle(self, *args: Any, **options: Any) -> None:
        provider = self._provider(options["provider"])
        if options["base_url"]:
            provider.base_url = options["base_url"]
            provider.save(update_fields=["base_url"])
        api_key = provider_api_key(api_key_env=provider.api_key_env)
        if provider.api_key_env and not api_key:
            raise CommandError(f"Set {provider.api_key_env} to read {provider.name}'s models")
        self.stdout.write(f"Reading {provider.name}'s models from {provider.base_url} ...")
        try:
            with httpx.Client(timeout=30, follow_redirects=False) as client:
                entries = fetch_model_list(
                    client, base_url=provider.base_url, adapter=provider.adapter, api_key=api_key
                )
        except (httpx.HTTPError, ValueError) as exc:
            raise CommandError(f"Could not read the model list: {exc}") from exc
        known = KNOWN_BY_SLUG.get(provider.slug)
        author = known.default_author if known else ""
        listed = [
            m
            for e in entries
            if (m := listed_model(e, default_author=author, provider_slug=provider.slug))
        ]
        self.stdout.write(f"{len(listed)} models listed")
        report = catalog_sync(provider, listed, progress=self.stdout.write)
        self._summary(report)

    def _provider(self, slug: str) -> Provider:
        provider = Provider.objects.filter(slug=slug).first()
        if provider is not None:
            return provider
        if slug in KNOWN_BY_SLUG:
            return known_provider_upsert(KNOWN_BY_SLUG[slug])
        known = ", ".join(sorted(KNOWN_BY_SLUG))
        raise CommandError(f"Unknown provider '{slug}' (add it in the admin; known: {known})")

    def _summary(self, report: Any) -> None:
        for label in ("created", "updated", "unchanged", "deactivated", "unpriced"):
            items = getattr(report, label)
            line = f"{label}: {len(items)}"
            if items and label != "unchanged":
                line += " - " + ", ".join(items[:20]) + (" ..." if len(items) > 20 else "")
            self.stdout.write(line)
        if report.unpriced:
            self.stdout.write("Models without a price in the list were skipped: price them in "
                              "the admin (Catalog > Endpoints).")  # fmt: skip
