"""Known vulnerabilities of the locked packages, from PyPI's own advisory data.

`./dev test` prefers pip-audit, which reads each pinned release's advisories from PyPI's
per-release JSON API. Where only the per-project JSON API answers (this project's CI machines
reach PyPI through a mirror without the per-release pages), this audit reads that instead: it
lists the advisories of the project's *latest* release, so a pin that is the latest release is
audited exactly, and a pin behind it is reported as not audited (upgrade it to audit it).
A known vulnerability fails the audit; an unreachable PyPI fails it too.

    python -m marketplace.ops.lock_audit requirements.lock requirements-dev.lock
"""

import json
import re
import sys
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    advisories: tuple[str, ...] = ()  # ids of the advisories that apply to the pin
    audited: bool = True
    latest: str = ""


def pins(lock_texts: Iterable[str]) -> dict[str, str]:
    """`name==version` lines of pip lock files, names normalized (PEP 503)."""
    found: dict[str, str] = {}
    for text in lock_texts:
        for name, version in PIN.findall(text):
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def finding_of(name: str, version: str, project: dict[str, Any]) -> Finding:
    latest = str(project["info"]["version"])
    if latest != version:
        return Finding(name, version, audited=False, latest=latest)
    advisories = tuple(
        str(v.get("id")) for v in project.get("vulnerabilities") or [] if not v.get("withdrawn")
    )
    return Finding(name, version, advisories, latest=latest)


def _project(name: str) -> dict[str, Any]:
    with urllib.request.urlopen(PROJECT_JSON.format(name=name), timeout=30) as response:  # noqa: S310
        data: dict[str, Any] = json.load(response)
        return data


def audit(locked: dict[str, str]) -> list[Finding]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        projects = list(pool.map(_project, locked))
    return [finding_of(n, v, p) for (n, v), p in zip(locked.items(), projects, strict=True)]


def report(findings: Sequence[Finding]) -> int:
    vulnerable = [f for f in findings if f.advisories]
    behind = [f for f in findings if not f.audited]
    for f in vulnerable:
        print(f"VULNERABLE {f.name}=={f.version}: {', '.join(f.advisories)}")
    for f in behind:
        print(f"not audited: {f.name}=={f.version} (latest {f.latest}: upgrade to audit it)")
    audited = len(findings) - len(behind)
    print(f"{audited} of {len(findings)} locked packages audited, {len(vulnerable)} vulnerable")
    return 1 if vulnerable else 0


def main(paths: Sequence[str]) -> int:
    return report(audit(pins(Path(p).read_text() for p in paths)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
