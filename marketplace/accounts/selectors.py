from marketplace.accounts.models import RoutingDefaults, User


def routing_defaults_of(*, user: User) -> RoutingDefaults:
    """The user's routing defaults; an unsaved default row when they never set any."""
    found = RoutingDefaults.objects.filter(user=user).first()
    return found if found is not None else RoutingDefaults(user=user)
