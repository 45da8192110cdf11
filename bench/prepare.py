"""Point a catalog entry at the benchmark's mock upstream and print a funded API key.

Usage: python bench/prepare.py MOCK_BASE_URL   (run from the repository root, after migrate)
"""

import os
import sys
from decimal import Decimal
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup()

from django.utils import timezone  # noqa: E402

from billing.money import usd_to_nanos  # noqa: E402
from billing.services import credits_grant  # noqa: E402
from catalog.models import Endpoint, Model, Provider  # noqa: E402
from marketplace.accounts.services import user_get_or_create  # noqa: E402
from marketplace.keys.services import api_key_create  # noqa: E402

MODEL_SLUG = "bench/mock-model"


def main(mock_base_url: str) -> None:
    provider, _ = Provider.objects.update_or_create(
        slug="bench-mock", defaults={"name": "Bench Mock", "base_url": mock_base_url}
    )
    model, _ = Model.objects.update_or_create(
        slug=MODEL_SLUG,
        defaults={"name": "Bench mock", "context_length": 128_000},
        create_defaults={"name": "Bench mock", "context_length": 128_000,
                         "created_at": timezone.now()},
    )  # fmt: skip
    Endpoint.objects.update_or_create(
        model=model,
        provider=provider,
        defaults={
            "upstream_model_id": "mock-model",
            "prompt_usd_per_mtok": Decimal("0.15"),
            "completion_usd_per_mtok": Decimal("0.60"),
            "context_length": 128_000,
            "max_output_tokens": 16_384,
        },
    )
    user, _ = user_get_or_create(email="bench@switchyard.local")
    credits_grant(user=user, amount_nanos=usd_to_nanos("1000000"), reference="bench")
    _, key = api_key_create(user=user, name="bench")
    print(key)


if __name__ == "__main__":
    main(sys.argv[1])
