"""One newcomer's whole journey, in Chromium, against a live gateway, the simulated providers
and localstripe: browse and filter the catalog, open a model page, sign up, verify the e-mail
from the outbox, buy credits, create a key, call the API with the `openai` SDK, find the call
in the activity page with its cost and chart, export it as CSV, disable the key, and see the
next call refused. A screenshot of every page is kept under var/test-artifacts/journey/."""

import csv
import email
import io
import re
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import Page, expect

from billing.models import Generation
from billing.money import display_usd
from tests.conftest import FAILOVER_TEST_SETTINGS
from tests.live import eventually

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "journey"
EMAIL = "newcomer@example.com"
PASSWORD = "a-long-and-unusual-passphrase-42"
MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def site(start_gateway, live_catalog, localstripe, stripe_webhooks_to, tmp_path):
    """A gateway whose e-mails land in a folder the test can read."""
    mail = tmp_path / "mail"
    mail.mkdir()
    gateway = start_gateway(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail),
        **FAILOVER_TEST_SETTINGS,
    )
    stripe_webhooks_to(gateway.url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return gateway.url, mail


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _bodies(path: Path) -> list[str]:
    """The decoded text of every message in a file the file mail backend wrote."""
    texts = []
    for raw in path.read_text().split("-" * 79):
        message = email.message_from_string(raw.strip())
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return texts


def verification_link(mail: Path, base_url: str) -> str:
    pattern = re.compile(rf"{re.escape(base_url)}/accounts/confirm-email/[^\s\"<]+")

    def link() -> str | None:
        for path in sorted(mail.iterdir()):
            for body in _bodies(path):
                if found := pattern.search(body):
                    return found.group(0)
        return None

    return eventually(link, what="the verification e-mail")


def test_a_newcomer_goes_from_the_catalog_to_a_refused_disabled_key(site, page: Page):
    base, mail = site

    # The catalog, filtered, and a model page.
    page.goto(f"{base}/models")
    page.fill("input[name=q]", "gpt-4o")
    page.get_by_role("button", name=re.compile("Filter|Search|Apply")).first.click()
    expect(page.get_by_role("link", name=re.compile("GPT-4o-mini"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Llama"))).to_have_count(0)
    shot(page, "01-catalog")
    page.get_by_role("link", name=re.compile("GPT-4o-mini")).first.click()
    expect(page.locator("body")).to_contain_text("Nimbus Cloud")
    shot(page, "02-model")

    # Sign up, and verify the e-mail from the outbox.
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.get_by_role("button", name=re.compile("Sign Up", re.I)).click()
    expect(page.locator("body")).to_contain_text(re.compile("verif", re.I))
    shot(page, "03-verify")
    page.goto(verification_link(mail, base))
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
    if "/accounts/login" in page.url:
        page.fill("input[name=login]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name=re.compile("Sign In", re.I)).click()

    # Buy $10 of credits with the test card.
    page.goto(f"{base}/dashboard/credits/")
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill("4242424242424242")
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("34")
    card.locator('input[placeholder="cvc"]').fill("123")
    card.locator('input[placeholder="postal_code"]').fill("12345")
    page.click("#pay-button")
    expect(page.locator("#pay-result")).to_contain_text("Payment succeeded")
    expect(page.locator("#balance")).to_have_text("$10.00")
    shot(page, "04-credits")

    # Create a key; it is shown once.
    page.goto(f"{base}/dashboard/")
    page.fill("#key-create input[name=name]", "journey")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("sk-sy-v1-")
    shot(page, "05-key")

    # Call the API with the official SDK.
    client = openai.OpenAI(base_url=f"{base}/api/v1", api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello from the journey"}]
    )
    assert answer.choices[0].message.content

    # The call in the activity page, with its cost, and the chart.
    generation = eventually(lambda: Generation.objects.filter(id=answer.id).first())
    page.goto(f"{base}/dashboard/activity/")
    row = page.locator("#generations tr", has_text=MODEL).first
    expect(row).to_contain_text(display_usd(generation.cost_nanos))
    assert page.locator("svg").count() >= 1
    shot(page, "06-activity")

    # Export it as CSV (with the browser's session).
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    exported = httpx.get(f"{base}/dashboard/activity.csv", cookies=cookies, timeout=10)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["id"] for r in rows] == [answer.id]

    # Disable the key: the next call is refused.
    page.goto(f"{base}/dashboard/")
    page.locator("#keys tr", has_text="journey").get_by_role(
        "button", name=re.compile("Disable")
    ).click()
    expect(page.locator("#keys")).to_contain_text(re.compile("disabled", re.I))
    shot(page, "07-disabled")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
