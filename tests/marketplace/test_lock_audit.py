"""The fallback audit of the locked packages: which pins it can audit, and what fails it."""

from marketplace.ops.lock_audit import Finding, finding_of, pins, report


def project(latest: str, *vulnerabilities: dict[str, object]) -> dict[str, object]:
    return {"info": {"version": latest}, "vulnerabilities": list(vulnerabilities)}


def test_pins_are_read_from_hashed_lock_lines_with_normalized_names():
    lock = (
        "django==6.1.3 \\\n    --hash=sha256:abc\n"
        "Typing_Extensions==4.15.0 ; python_version < '3.13' \\\n    --hash=sha256:def\n"
        "# via -r pyproject.toml\n"
    )
    assert pins([lock]) == {"django": "6.1.3", "typing-extensions": "4.15.0"}


def test_a_latest_pin_with_an_advisory_is_vulnerable_unless_withdrawn():
    advisories: list[dict[str, object]] = [{"id": "PYSEC-1"}, {"id": "GHSA-2", "withdrawn": "x"}]
    finding = finding_of("x", "1.0", project("1.0", *advisories))
    assert finding == Finding("x", "1.0", ("PYSEC-1",), latest="1.0")


def test_a_pin_behind_the_latest_release_is_reported_as_not_audited():
    finding = finding_of("x", "1.0", project("2.0", {"id": "PYSEC-9"}))
    assert (finding.audited, finding.advisories) == (False, ())


def test_only_a_vulnerability_fails_the_audit(capsys):
    clean = Finding("a", "1", latest="1")
    behind = Finding("b", "1", audited=False, latest="2")
    assert report([clean, behind]) == 0
    assert report([clean, Finding("c", "1", ("PYSEC-3",), latest="1")]) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE c==1: PYSEC-3" in out
    assert "not audited: b==1 (latest 2:" in out
