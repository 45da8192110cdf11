from collections.abc import Iterable

from marketplace.accounts.models import RoutingDefaults, User


def user_get_or_create(*, email: str) -> tuple[User, bool]:
    """The user with this e-mail (case-insensitive), created without a usable password if new."""
    email = User.objects.normalize_email(email).lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing, False
    return User.objects.create_user(email=email), True


def routing_defaults_save(
    *, user: User, ignore: Iterable[str], sort: RoutingDefaults.Sort
) -> RoutingDefaults:
    """Replace the user's default provider preferences (one row per user; a repeat is a no-op).

    Gateways pick the change up within ROUTING_DEFAULTS_CACHE_TTL_S seconds.
    """
    defaults, _ = RoutingDefaults.objects.update_or_create(
        user=user, defaults={"ignore": sorted(set(ignore)), "sort": sort}
    )
    return defaults
