from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from billing.views import stripe_webhook
from catalog.api import embedding_model_list, model_list, provider_list
from marketplace.dashboard import (
    activity,
    catalog_pages,
    credits,
    provider_keys_page,
    settings_page,
)
from marketplace.dashboard import views as dashboard

# The admin's login is allauth's (its rate limits and e-mail verification); a signed-in user
# who is not staff gets a 403 instead of the admin's own login form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("models", catalog_pages.model_list, name="models"),
    path("models/<str:author>/<str:name>", catalog_pages.model_detail, name="model"),
    path("dashboard/", dashboard.keys, name="dashboard"),
    path("dashboard/keys/<int:key_id>/revoke", dashboard.key_revoke, name="key-revoke"),
    path(
        "dashboard/keys/<int:key_id>/disable",
        dashboard.key_disabled_set,
        {"disabled": True},
        name="key-disable",
    ),
    path(
        "dashboard/keys/<int:key_id>/enable",
        dashboard.key_disabled_set,
        {"disabled": False},
        name="key-enable",
    ),
    path("dashboard/credits/", credits.credits_page, name="credits"),
    path("dashboard/credits/quote", credits.credits_quote, name="credits-quote"),
    path("dashboard/credits/setup", credits.credits_setup, name="credits-setup"),
    path("dashboard/credits/pay", credits.credits_pay, name="credits-pay"),
    path(
        "dashboard/credits/purchases/<int:purchase_id>",
        credits.purchase_status,
        name="purchase-status",
    ),
    path("dashboard/credits/auto-topup", credits.auto_topup_save, name="auto-topup"),
    path("dashboard/activity/", activity.activity_page, name="activity"),
    path("dashboard/activity.csv", activity.activity_csv, name="activity-csv"),
    path("dashboard/settings/", settings_page.settings_page, name="settings"),
    path(
        "dashboard/provider-keys/",
        provider_keys_page.provider_keys_page,
        name="provider-keys",
    ),
    path(
        "dashboard/provider-keys/<int:key_id>/delete",
        provider_keys_page.provider_key_remove,
        name="provider-key-delete",
    ),
    path(
        "dashboard/provider-keys/<int:key_id>/always-use",
        provider_keys_page.provider_key_always_use,
        name="provider-key-always-use",
    ),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("billing/webhooks/stripe", stripe_webhook, name="stripe-webhook"),
    path("api/v1/models", model_list, name="api-models"),
    path("api/v1/providers", provider_list, name="api-providers"),
    path("api/v1/embeddings/models", embedding_model_list, name="api-embedding-models"),
]
