"""The operators' admin: only staff get in (through allauth's rate-limited login), the catalog's
prices are editable, the ledger is read-only, and a balance changes only by an ADJUSTMENT entry
posted through the ledger service."""

import re
import uuid
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from billing.models import LedgerEntry, Wallet
from billing.selectors import ledger_mismatches
from billing.services import credits_grant, wallet_get_or_create
from catalog.models import Endpoint, Model, Provider
from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # allauth's login counts attempts in the cache; this test's own, not a shared Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-admin-{uuid.uuid4().hex}",
        }
    }


def make_user(email: str, **flags: bool) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, **flags)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def operator(client) -> User:
    user = make_user("ops@example.com", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def bob_wallet() -> Wallet:
    bob = make_user("bob@example.com")
    credits_grant(user=bob, amount_nanos=5_000_000_000)
    return wallet_get_or_create(user=bob)


def test_anonymous_visitors_are_sent_to_the_site_login(client):
    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/?next=%2Fadmin%2F"


def test_staff_log_in_through_the_site_login_and_reach_the_admin(client):
    make_user("ops@example.com", is_staff=True)

    response = client.post(
        "/accounts/login/?next=/admin/",
        {"login": "ops@example.com", "password": PASSWORD, "next": "/admin/"},
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_users_who_are_not_staff_cannot_reach_the_admin(client):
    client.force_login(make_user("mallory@example.com"))

    assert client.get("/admin/", follow=True).status_code == 403
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/billing/wallet/").status_code == 302  # to the (refused) login


def test_every_operator_page_renders(client, operator, bob_wallet):
    from catalog.services import demo_catalog_load

    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    for path in (
        "/admin/",
        "/admin/catalog/provider/?q=nimbus",
        "/admin/catalog/model/?q=gpt",
        f"/admin/catalog/model/{Model.objects.get(slug='openai/gpt-4o-mini').pk}/change/",
        "/admin/catalog/endpoint/?provider__id__exact=1",
        "/admin/accounts/user/?q=bob",
        f"/admin/accounts/user/{bob_wallet.user_id}/change/",
        "/admin/billing/wallet/",
        f"/admin/billing/wallet/{bob_wallet.pk}/change/",
        "/admin/billing/ledgerentry/?kind__exact=grant",
    ):
        assert client.get(path).status_code == 200, path


def test_endpoint_prices_are_edited_in_the_list(client, operator):
    provider = Provider.objects.create(slug="acme", name="Acme", base_url="https://acme.test/v1")
    model = Model.objects.create(
        slug="acme/one", name="One", context_length=8000, created_at="2026-01-01T00:00Z"
    )
    endpoint = Endpoint.objects.create(
        model=model, provider=provider, upstream_model_id="one", prompt_usd_per_mtok=1,
        completion_usd_per_mtok=2, context_length=8000, max_output_tokens=1000,
    )  # fmt: skip

    response = client.post(
        "/admin/catalog/endpoint/",
        {
            "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(endpoint.pk),
            "form-0-prompt_usd_per_mtok": "0.15", "form-0-completion_usd_per_mtok": "0.6",
            "form-0-request_usd": "0", "form-0-is_active": "on",
            "_save": "Save",
        },
    )  # fmt: skip

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok) == (
        Decimal("0.15"),
        Decimal("0.6"),
    )


def test_the_ledger_is_read_only(client, operator, bob_wallet):
    entry = LedgerEntry.objects.get(wallet=bob_wallet)

    page = client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/").content.decode()
    response = client.post(
        f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount_nanos": "999"}
    )

    assert 'name="amount_nanos"' not in page
    assert response.status_code == 403
    assert client.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert client.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/").status_code == 403
    assert client.post(f"/admin/billing/wallet/{bob_wallet.pk}/change/", {}).status_code == 403
    entry.refresh_from_db()
    assert entry.amount_nanos == 5_000_000_000


def adjust_form(client, wallet: Wallet) -> str:
    """The adjustment form's one-time key, read from the page as a browser would submit it."""
    page = client.get(f"/admin/billing/wallet/{wallet.pk}/adjust/").content.decode()
    found = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page)
    assert found is not None, page
    return found.group(1)


def test_an_adjustment_posts_one_ledger_entry_through_the_ledger(client, operator, bob_wallet):
    wallet_page = client.get(f"/admin/billing/wallet/{bob_wallet.pk}/change/").content.decode()
    assert f'href="/admin/billing/wallet/{bob_wallet.pk}/adjust/"' in wallet_page
    key = adjust_form(client, bob_wallet)
    data = {"amount_usd": "-1.25", "reason": "duplicate grant", "idempotency_key": key}

    response = client.post(f"/admin/billing/wallet/{bob_wallet.pk}/adjust/", data)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/wallet/{bob_wallet.pk}/change/"
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (entry.wallet_id, entry.amount_nanos) == (bob_wallet.pk, -1_250_000_000)
    assert entry.idempotency_key == f"adjustment:{key}"
    assert entry.reference == "duplicate grant (by ops@example.com)"
    bob_wallet.refresh_from_db()
    assert bob_wallet.balance_nanos == entry.balance_after_nanos == 3_750_000_000
    assert ledger_mismatches() == []
    assert LogEntry.objects.filter(object_id=str(bob_wallet.pk)).count() == 1
    assert "$3.75" in client.get(response["Location"]).content.decode()

    # The same form sent again (a double click, a reload) posts nothing more.
    assert client.post(f"/admin/billing/wallet/{bob_wallet.pk}/adjust/", data).status_code == 302
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).count() == 1
    bob_wallet.refresh_from_db()
    assert bob_wallet.balance_nanos == 3_750_000_000
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0", "enter a non-zero amount"),
        ("0.0000000001", "Ensure that there are no more than 9 decimal places."),
        ("2000000", "Ensure this value is less than or equal to 1000000."),
        ("ten", "Enter a number."),
    ],
)
def test_a_bad_adjustment_is_refused_with_an_error(client, operator, bob_wallet, amount, error):
    key = adjust_form(client, bob_wallet)
    data = {"amount_usd": amount, "reason": "typo", "idempotency_key": key}

    response = client.post(f"/admin/billing/wallet/{bob_wallet.pk}/adjust/", data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()


def test_staff_without_the_ledger_permission_cannot_adjust(client, bob_wallet):
    clerk = make_user("clerk@example.com", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_wallet"))
    client.force_login(clerk)

    assert client.get(f"/admin/billing/wallet/{bob_wallet.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/billing/wallet/{bob_wallet.pk}/adjust/",
        {"amount_usd": "100", "reason": "me", "idempotency_key": str(uuid.uuid4())},
    )

    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()
