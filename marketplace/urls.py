from django.contrib import admin
from django.urls import include, path

from catalog.api import embedding_model_list, model_list, provider_list
from marketplace.dashboard import views as dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("dashboard/", dashboard.keys, name="dashboard"),
    path("dashboard/keys/<int:key_id>/revoke", dashboard.key_revoke, name="key-revoke"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/models", model_list, name="api-models"),
    path("api/v1/providers", provider_list, name="api-providers"),
    path("api/v1/embeddings/models", embedding_model_list, name="api-embedding-models"),
]
