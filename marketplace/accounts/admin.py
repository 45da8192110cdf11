from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from billing.money import display_usd
from marketplace.accounts.models import RoutingDefaults, User


class EmailAddressInline(admin.TabularInline):  # type: ignore[type-arg]
    """An operator may verify an address by hand (a user whose mail never arrives)."""

    model = EmailAddress
    extra = 0
    fields = ("email", "verified", "primary")


class RoutingDefaultsInline(admin.StackedInline):  # type: ignore[type-arg]
    model = RoutingDefaults
    extra = 0
    fields = ("ignore", "sort", "updated_at")
    readonly_fields = ("updated_at",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    ordering = ("email",)
    list_display = ("email", "email_verified", "balance", "is_staff", "is_active", "date_joined",
                    "last_login")  # fmt: skip
    list_filter = ("is_staff", "is_superuser", "is_active", "date_joined")
    search_fields = ("email",)
    readonly_fields = ("last_login", "date_joined", "wallet_link")
    fieldsets = (
        (None, {"fields": ("email", "password", "wallet_link")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"fields": ("email", "password1", "password2")}),)
    inlines = (EmailAddressInline, RoutingDefaultsInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        verified = EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)
        users: QuerySet[User] = super().get_queryset(request)
        return users.select_related("wallet").annotate(has_verified_email=Exists(verified))

    @admin.display(description="verified", boolean=True, ordering="has_verified_email")
    def email_verified(self, user: User) -> bool:
        return bool(getattr(user, "has_verified_email", False))

    @admin.display(description="balance", ordering="wallet__balance_nanos")
    def balance(self, user: User) -> str:
        wallet = getattr(user, "wallet", None)
        return display_usd(wallet.balance_nanos) if wallet is not None else "-"

    @admin.display(description="wallet")
    def wallet_link(self, user: User) -> str:
        wallet = getattr(user, "wallet", None)
        if wallet is None:
            return "-"
        url = reverse("admin:billing_wallet_change", args=[wallet.pk])
        return format_html(
            '<a href="{}">{}</a> (ledger, adjust balance)', url, display_usd(wallet.balance_nanos)
        )
