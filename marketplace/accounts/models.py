from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager["User"]):
    """Users are identified by e-mail; there is no username."""

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField(unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


class RoutingDefaults(models.Model):
    """A user's default provider preferences, applied by the gateway to requests that do not
    say otherwise: `ignore` joins the request's `provider.ignore`; `sort` is used when the
    request gives none."""

    class Sort(models.TextChoices):
        PRICE = "", "Lowest price"  # the gateway's own default
        THROUGHPUT = "throughput", "Highest throughput"
        LATENCY = "latency", "Lowest latency"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="routing_defaults")
    # Provider slugs; a slug no longer in the catalog is skipped by the gateway.
    ignore = models.JSONField(default=list, blank=True)
    sort = models.CharField(max_length=16, choices=Sort.choices, default=Sort.PRICE, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "routing defaults"

    def __str__(self) -> str:
        return f"routing defaults of {self.user}"
