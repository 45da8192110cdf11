from decimal import Decimal


def price_per_token(usd_per_mtok: Decimal) -> str:
    """OpenRouter's catalog shows prices as decimal strings of USD per token ("0" when free)."""
    text = f"{(usd_per_mtok / 1_000_000):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
