"""Money and charts: exact costs and totals, and inline SVG charts that load nothing."""

import re
from datetime import timedelta

import pytest

from tests.web.activity.support import (
    LLAMA,
    PAGE,
    generation,
    save,
)

pytestmark = pytest.mark.django_db


def test_costs_and_totals_are_exact(alice_client, cast) -> None:
    save(
        generation(cast.prod, cost_nanos=1_234_567_891),
        generation(cast.prod, model=LLAMA, cost_nanos=1),
        generation(cast.dev, model=LLAMA, cost_nanos=2, ago=timedelta(days=3)),
    )
    html = alice_client.get(PAGE).content.decode()

    assert "$1.234567891" in html
    assert "$0.000000001" in html
    summary = html.split('id="summary"', 1)[1].split("</p>", 1)[0]
    assert "$1.234567894" in summary
    per_model = html.split('id="per-model"', 1)[1].split("</table>", 1)[0]
    assert "$0.000000003" in per_model  # llama: 1 + 2 nanos
    per_day = html.split('id="per-day"', 1)[1].split("</table>", 1)[0]
    assert "$1.234567892" in per_day  # today's two


def test_charts_are_inline_svg_that_load_nothing(alice_client, cast) -> None:
    save(
        generation(cast.prod, cost_nanos=1_500_000_000),
        generation(cast.dev, model=LLAMA, ago=timedelta(days=2)),
    )
    html = alice_client.get(PAGE).content.decode()

    charts = re.findall(r'<figure class="activity-chart">(.*?)</figure>', html, re.S)
    assert len(charts) == 4
    for chart in charts:
        assert chart.startswith("<svg")
        assert chart.endswith("</svg>")
        assert not re.search(r'(?:href|src)\s*=\s*"(?:https?:)?//', chart)
        assert "<script" not in chart
        assert "xml-stylesheet" not in chart
        assert "<!--" not in chart
    assert "Spend per day" in charts[0]
    assert "Tokens per model" in charts[3]
    # Values as text are exact (the float only places the bar).
    assert "$1.50" in charts[0]
    assert "$1.500000000" not in charts[0]
    assert "<title>" in charts[0]
    # The page itself loads nothing from elsewhere either.
    assert not re.search(r'(?:href|src)="(?:https?:)?//', html)


def test_no_charts_without_generations(alice_client, cast) -> None:
    html = alice_client.get(PAGE).content.decode()
    assert "<svg" not in html
    assert "No generations match" in html
