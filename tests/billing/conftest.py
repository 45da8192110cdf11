import pytest

from billing.models import Wallet
from billing.services import credits_grant, wallet_get_or_create
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create


@pytest.fixture
def wallet() -> Wallet:
    """A wallet holding 1000 nanos."""
    user = User.objects.create_user(email="alice@example.com")
    credits_grant(user=user, amount_nanos=1000)
    return wallet_get_or_create(user=user)


@pytest.fixture
def key(wallet: Wallet) -> ApiKey:
    return api_key_create(user=wallet.user, name="unlimited")[0]
