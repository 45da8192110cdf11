"""Typed, strict readers for settings that come from the environment (12-factor).

A value may also come from a file named by `<NAME>_FILE` (Docker/Kubernetes secrets).
A malformed value stops the process at start-up instead of being silently ignored.
"""

import os
from pathlib import Path


class EnvError(ValueError):
    pass


def env_str(name: str, default: str = "") -> str:
    """`name`'s value, or the contents of the file `<name>_FILE` names (surrounding whitespace,
    such as the final newline of `echo secret > file`, removed)."""
    file_path = os.environ.get(f"{name}_FILE")
    if not file_path:
        return os.environ.get(name, default)
    if name in os.environ:
        # Which one wins would be a guess; a stale secret in the other is a classic outage.
        raise EnvError(f"set {name} or {name}_FILE, not both")
    try:
        return Path(file_path).read_text().strip()
    except OSError as exc:
        raise EnvError(f"{name}_FILE: cannot read {file_path!r} ({exc.strerror})") from None


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise EnvError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise EnvError(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = env_str(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise EnvError(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name, "").strip()
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]
