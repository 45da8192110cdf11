"""System checks of a production deployment that need the database (so they run with
`manage.py check --database default`, and before `migrate` applies anything)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError

from catalog.demo import DEMO_PROVIDERS
from catalog.models import Provider
from marketplace.production import is_public_https


def _is_simulated(provider: Provider) -> bool:
    """A provider of the demo catalog: its row points at the simulator (SIMULATOR_URL, the
    loopback default in production), or it has a demo provider's name and no real address."""
    if provider.base_url.startswith(settings.SIMULATOR_URL.rstrip("/") + "/"):
        return True
    return provider.slug in DEMO_PROVIDERS and not is_public_https(provider.base_url)


@register(Tags.database)
def simulated_providers_check(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """In production, no active provider may be a simulated one: paying users would get
    made-up answers."""
    if settings.SWITCHYARD_ENV != "production" or not databases:
        return []
    try:
        providers = list(Provider.objects.filter(is_active=True))
    except DatabaseError:
        return []  # a database not migrated yet has no providers
    return [
        Error(
            f"Provider {provider.slug!r} is a simulated provider ({provider.base_url}).",
            hint="Deactivate it in the admin: the demo catalog is for development only.",
            obj=provider,
            id="ops.E001",
        )
        for provider in providers
        if _is_simulated(provider)
    ]
