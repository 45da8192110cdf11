"""Type guards and coercions for JSON values, shared by both directions of the format."""

from typing import Any, TypeGuard

from proxy.providers.base import Json


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def count(value: Any) -> int:
    """A token count: a positive integer, else 0."""
    return value if is_int(value) and value > 0 else 0


def as_object(value: Any) -> Json:
    return value if isinstance(value, dict) else {}
