from marketplace.accounts.models import User


def user_get_or_create(*, email: str) -> tuple[User, bool]:
    """The user with this e-mail (case-insensitive), created without a usable password if new."""
    email = User.objects.normalize_email(email).lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing, False
    return User.objects.create_user(email=email), True
