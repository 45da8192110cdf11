"""The activity page's charts: SVG drawn on the server by pygal and inlined in the page.

Nothing is loaded at run time: pygal's tooltip script (a CDN URL by default) is switched off,
its inline config script and comments are removed, and each bar carries an SVG <title> with
its exact value, which browsers show as a tooltip without any script. Money becomes a float
only to place a bar; every amount shown as text is the exact one (`display_usd`).
"""

import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pygal
from pygal.formatters import human_readable
from pygal.style import Style

from billing.money import display_usd, nanos_to_usd
from marketplace.dashboard.activity_selectors import Totals, totals_overall

# Models past this many are drawn as one "other models" bar (the table lists them all).
MODEL_BARS = 10
_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2433",
    foreground_strong="#1d2433",
    foreground_subtle="#5a6478",
    font_family="system-ui, sans-serif",
    colors=("#2456d3", "#9db4ec"),
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    tooltip_font_size=13,
    opacity=".9",
    opacity_hover="1",
)


def _tag(element: ET.Element) -> str:
    return str(element.tag).rpartition("}")[2]


def _self_contained(root: ET.Element) -> ET.Element:
    """Drop comments (pygal's links) and scripts; give each value a native tooltip."""
    for parent in list(root.iter()):
        for child in list(parent):
            # A comment's tag is a function, not a name.
            if not isinstance(child.tag, str) or _tag(child) == "script":
                parent.remove(child)
        descriptions = {d.get("class"): d.text for d in parent if _tag(d) == "desc"}
        if "value" in descriptions:
            title = ET.Element("title")
            label = descriptions.get("x_label")
            title.text = f"{label}: {descriptions['value']}" if label else descriptions["value"]
            parent.insert(0, title)
    return root


def _config(title: str, **options: Any) -> Any:
    defaults = {
        "width": 560,
        "height": 300,
        "margin": 8,
        "legend_at_bottom": True,
        "truncate_legend": -1,
        "truncate_label": 40,
        "margin_left": 24,  # pygal measures labels a little short: "$" would be cut off
        "max_scale": 6,  # at most about six ticks on the value axis
        "print_zeroes": False,
    }
    return pygal.Config(
        title=title,
        style=_STYLE,
        js=[],  # no tooltip script from kozea.github.io
        disable_xml_declaration=True,
        **{**defaults, **options},
    )


def _money_axis(usd: float) -> str:
    """Axis ticks only (a scale, computed by pygal in floats): enough digits to tell apart."""
    if usd == 0:
        return "$0"
    digits = max(2, 1 - math.floor(math.log10(abs(usd))))
    return f"${usd:,.{digits}f}"


def _money(nanos: int) -> dict[str, Any]:
    text = display_usd(nanos)
    return {"value": float(nanos_to_usd(nanos)), "formatter": lambda _value, text=text: text}


def _tokens(count: int, kind: str) -> dict[str, Any]:
    text = f"{count:,} {kind} tokens"
    return {"value": count, "formatter": lambda _value, text=text: text}


def _render(chart: Any) -> str:
    chart.add_xml_filter(_self_contained)
    return str(chart.render(is_unicode=True))


def _day_labels(days: list[Totals]) -> dict[str, Any]:
    every = max(1, math.ceil(len(days) / 8))  # at most 8 labels, however long the range
    return {"x_labels_major_every": every, "show_minor_x_labels": every == 1}


def spend_by_day_chart(days: list[Totals]) -> str:
    chart = pygal.Bar(_config("Spend per day (USD)", show_legend=False, **_day_labels(days)))
    chart.value_formatter = _money_axis
    chart.x_labels = [day.label[5:] for day in days]  # MM-DD; the range is shown above
    chart.add("Spend", [_money(day.cost_nanos) for day in days])
    return _render(chart)


def tokens_by_day_chart(days: list[Totals]) -> str:
    chart = pygal.StackedBar(_config("Tokens per day", **_day_labels(days)))
    chart.value_formatter = human_readable  # the axis: "4M", "250k"
    chart.x_labels = [day.label[5:] for day in days]
    chart.add("Prompt", [_tokens(day.prompt_tokens, "prompt") for day in days])
    chart.add("Completion", [_tokens(day.completion_tokens, "completion") for day in days])
    return _render(chart)


def _top_models(models: list[Totals]) -> list[Totals]:
    """The models by spend, the rest folded into one entry; drawn top to bottom."""
    if len(models) <= MODEL_BARS:
        return models[::-1]
    rest = models[MODEL_BARS - 1 :]
    other = replace(totals_overall(rest), label=f"{len(rest)} other models")
    return [other, *models[: MODEL_BARS - 1][::-1]]


def _model_height(count: int) -> int:
    return max(160, 80 + 28 * count)


def spend_by_model_chart(models: list[Totals]) -> str:
    shown = _top_models(models)
    config = _config("Spend per model (USD)", show_legend=False, height=_model_height(len(shown)))
    chart = pygal.HorizontalBar(config)
    chart.value_formatter = _money_axis
    chart.x_labels = [model.label for model in shown]
    chart.add("Spend", [_money(model.cost_nanos) for model in shown])
    return _render(chart)


def tokens_by_model_chart(models: list[Totals]) -> str:
    shown = _top_models(models)
    chart = pygal.HorizontalStackedBar(
        _config("Tokens per model", height=_model_height(len(shown)))
    )
    chart.value_formatter = human_readable  # the axis: "4M", "250k"
    chart.x_labels = [model.label for model in shown]
    chart.add("Prompt", [_tokens(model.prompt_tokens, "prompt") for model in shown])
    chart.add("Completion", [_tokens(model.completion_tokens, "completion") for model in shown])
    return _render(chart)
