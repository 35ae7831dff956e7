"""The reports page's charts, drawn server-side as SVG: a weekly trend, ranked bars, broadcasts per channel.

Pure: figures come in as arguments. As with the flood chart (tickets/chart.py) the page's CSP
forbids inline styles, so the SVG uses presentation attributes only; every piece of text and every
link passed in is escaped. A bar or point that has incidents behind it is a link to them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ..tickets.chart import AXIS, BAR, GRID, MUTED, svg_document
from ..tickets.chart import coordinate as _n

LINE = BAR
CLASS = "report-chart"
SERIES = {"sent": "#1e6b35", "delivered": "#14532d", "failed": "#b3261e", "fell_back": "#a15c00"}
SERIES_LABELS = {"sent": "sent", "delivered": "delivered", "failed": "failed", "fell_back": "fell back"}


@dataclass(frozen=True)
class Point:
    """One week of a trend: its label, value (None: nothing to show that week), what the value is
    over (e.g. "12 incidents"), and the link to the incidents behind it."""

    label: str
    value: float | None
    detail: str = ""
    href: str | None = None


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str          # the value as people read it, e.g. "1,204 tickets (12.0 %)"
    href: str | None = None


def human_duration(seconds: float | None) -> str:
    """A duration as a support lead reads it: 45 s, 12 min, 3 h 05 min, 2 d 4 h; '—' for nothing."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def trend_svg(points: Sequence[Point], *, label: str, chart_id: str, width: int = 640, height: int = 200,
              fmt: Callable[[float | None], str] = human_duration) -> Markup:
    """A line over the weeks (gaps where a week has no value), a dot per week linking to its incidents."""
    ids = (f"{chart_id}-title", f"{chart_id}-desc")
    shown = [p.value for p in points if p.value is not None]
    if not shown:
        return svg_document(CLASS, width, height, ids, label, "No values in this period.", [_empty(width, height)])
    left, right, top, bottom = 64, width - 16, 16, height - 34
    peak = max(shown) or 1.0
    step = (right - left) / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        x = left + index * step if len(points) > 1 else (left + right) / 2
        return x, bottom - value / peak * (bottom - top)

    parts = [_line("grid", left, top, right, top, GRID), _line("axis", left, bottom, right, bottom, AXIS),
             _text("y-label", left - 6, top + 4, fmt(peak), "end"), _text("y-label", left - 6, bottom + 4, "0", "end")]
    every = max(1, -(-len(points) // 8))   # at most ~8 week labels
    for index, point in enumerate(points):
        if index % every == 0:
            parts.append(_text("x-label", xy(index, 0)[0], bottom + 16, point.label, "middle"))
    run: list[tuple[float, float]] = []
    for index, point in enumerate([*points, Point("", None)]):
        if point.value is None:
            if len(run) > 1:
                path = " ".join(f"{_n(x)},{_n(y)}" for x, y in run)
                parts.append(f'<polyline class="trend" points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
            run = []
            continue
        run.append(xy(index, point.value))
    for index, point in enumerate(points):
        if point.value is None:
            continue
        x, y = xy(index, point.value)
        dot = (f'<circle class="point" cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{LINE}">'
               f'<title>{escape(point.label)}: {escape(fmt(point.value))}'
               f'{escape(" — " + point.detail) if point.detail else ""}</title></circle>')
        parts.append(_link(point.href, dot))
    desc = "; ".join(f"{p.label}: {fmt(p.value)}" for p in points if p.value is not None)
    return svg_document(CLASS, width, height, ids, label, desc, parts)


def bars_svg(bars: Sequence[Bar], *, label: str, chart_id: str, width: int = 640) -> Markup:
    """Horizontal bars, longest first as given, each labelled and linking to its incidents."""
    row, top = 24, 8
    height = max(top * 2 + row * len(bars), 60)
    ids = (f"{chart_id}-title", f"{chart_id}-desc")
    if not bars:
        return svg_document(CLASS, width, height, ids, label, "Nothing in this period.", [_empty(width, height)])
    label_width, text_width = 150, 150
    left, right = label_width, width - text_width
    peak = max(b.value for b in bars) or 1.0
    parts = []
    for index, bar in enumerate(bars):
        y = top + index * row
        length = max(bar.value / peak * (right - left), 2.0)
        shape = (f'<rect class="bar" x="{left}" y="{_n(y + 4)}" width="{_n(length)}" height="{row - 8}" rx="2" '
                 f'fill="{BAR}"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>')
        parts += [_text("bar-label", left - 8, y + row / 2 + 4, _clip(bar.label), "end"), _link(bar.href, shape),
                  _text("bar-value", left + length + 6, y + row / 2 + 4, bar.text, "start")]
    desc = "; ".join(f"{b.label}: {b.text}" for b in bars)
    return svg_document(CLASS, width, height, ids, label, desc, parts)


def channels_svg(channels: dict[str, dict[str, int]], *, chart_id: str, hrefs: dict[str, str] | None = None,
                 width: int = 640) -> Markup:
    """Per channel, one bar each for sent, delivered, failed and fell back, with a legend."""
    label = "Broadcast messages per channel"
    ids = (f"{chart_id}-title", f"{chart_id}-desc")
    group = len(SERIES) * 12 + 14
    height = max(36 + group * len(channels), 70)
    if not channels:
        return svg_document(CLASS, width, height, ids, label, "No broadcast messages in this period.",
                            [_empty(width, height)])
    left, right = 90, width - 90
    peak = max(max(figures.values()) for figures in channels.values()) or 1
    parts = [_legend(left)]
    for index, (channel, figures) in enumerate(channels.items()):
        y0 = 30 + index * group
        parts.append(_link((hrefs or {}).get(channel), _text("bar-label", left - 8, y0 + group / 2, channel, "end")))
        for k, (key, colour) in enumerate(SERIES.items()):
            y = y0 + k * 12
            length = max(figures[key] / peak * (right - left), 1.0 if figures[key] else 0.0)
            parts.append(f'<rect class="bar {key}" x="{left}" y="{_n(y)}" width="{_n(length)}" height="10" '
                         f'fill="{colour}"><title>{escape(channel)}: {figures[key]} {SERIES_LABELS[key]}</title></rect>'
                         + _text("bar-value", left + length + 4, y + 9, f"{figures[key]:,}", "start"))
    desc = "; ".join(f"{channel}: " + ", ".join(f"{figures[k]} {SERIES_LABELS[k]}" for k in SERIES)
                     for channel, figures in channels.items())
    return svg_document(CLASS, width, height, ids, label, desc, parts)


def _legend(left: float) -> str:
    items, x = [], left
    for key, colour in SERIES.items():
        items.append(f'<rect x="{_n(x)}" y="6" width="10" height="10" fill="{colour}"/>'
                     + _text("legend", x + 14, 15, SERIES_LABELS[key], "start"))
        x += 24 + len(SERIES_LABELS[key]) * 6.2
    return '<g class="legend">' + "".join(items) + "</g>"


def _empty(width: float, height: float) -> str:
    return (f'<text class="empty" x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" font-size="13" '
            f'fill="{MUTED}">Nothing in this period</text>')


def _line(cls: str, x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line class="{cls}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{colour}"/>'


def _text(cls: str, x: float, y: float, text: str, anchor: str) -> str:
    return (f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{MUTED}">'
            f'{escape(text)}</text>')


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _clip(text: str, most: int = 22) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"
