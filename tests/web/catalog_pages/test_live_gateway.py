"""Live: a gateway process's pages read its health, in its memory or in Redis."""

import httpx
import pytest

from tests.live import eventually

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared", [False, True], ids=["gateway memory", "redis"])
def test_a_gateway_shows_its_own_measurements_on_its_pages(
    request, live_catalog, start_gateway, make_account, shared
):
    redis_url = request.getfixturevalue("redis_url") if shared else ""
    gateway = start_gateway(REDIS_URL=redis_url)
    key = make_account("5").api_key
    model = "openai/gpt-4o-mini"

    def measured_page() -> str | None:
        page = httpx.get(f"{gateway.url}/models/{model}", timeout=10).text
        return None if "No uptime measurements yet" in page else page

    assert measured_page() is None  # no request yet: nothing measured
    response = httpx.post(
        f"{gateway.url}/api/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text

    page = eventually(measured_page, what="the page shows the recorded request")
    assert "Nimbus Cloud, last 30 min: 100.0%" in page
