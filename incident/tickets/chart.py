"""The flood chart: linked tickets per interval as a server-side SVG, status changes marked.

Pure: times come in as arguments. The page's CSP forbids inline styles, so the SVG uses
presentation attributes only, and every piece of text passed in is escaped.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from markupsafe import Markup, escape

BUCKET_SIZES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
LABEL_STEPS = BUCKET_SIZES + (2880, 4320, 10080)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BAR, MARKER, INK, MUTED, AXIS, GRID = "#1f4fa3", "#b3261e", "#1d1d1f", "#5f6368", "#9aa0a6", "#e3e6ea"
CLASS = "flood-chart"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
CHAR_WIDTH, ROW_HEIGHT, MAX_ROWS, MAX_LABEL = 6.2, 14, 4, 28  # marker labels: 11px text
LEFT, TOP_PAD, RIGHT_PAD, BOTTOM_PAD = 54, 16, 24, 30


def bucketize(times: Iterable[datetime], *, start: datetime, end: datetime,
              max_buckets: int = 48) -> tuple[int, list[tuple[datetime, int]]]:
    """Count `times` in round buckets covering start..end: (bucket_minutes, [(bucket_start, count), ...]).

    The size is the smallest of BUCKET_SIZES (minutes) giving <= max_buckets buckets, else a day;
    bucket starts are multiples of the size since the epoch (UTC) and empty buckets are kept.
    Times outside start..end are ignored; a time exactly at an aligned `end` counts in the last bucket.
    """
    return bucketize_counts(((t, 1) for t in times), start=start, end=end, max_buckets=max_buckets)


def bucketize_counts(counted: Iterable[tuple[datetime, int]], *, start: datetime, end: datetime,
                     max_buckets: int = 48) -> tuple[int, list[tuple[datetime, int]]]:
    """bucketize() for (time, how many) pairs, e.g. tickets already counted per timestamp by the database."""
    _aware(start, "start")
    _aware(end, "end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if max_buckets < 1:
        raise ValueError(f"max_buckets must be at least 1, got {max_buckets}")
    size = choose_bucket_minutes(start, end, max_buckets=max_buckets)
    step, first = timedelta(minutes=size), _align(start, size)
    counts = [0] * _bucket_count(first, end, size)
    for t, n in counted:
        _aware(t, "time")
        if start <= t <= end:
            counts[min((t - first) // step, len(counts) - 1)] += n
    return size, [(first + i * step, count) for i, count in enumerate(counts)]


def choose_bucket_minutes(start: datetime, end: datetime, *, max_buckets: int = 48) -> int:
    """The smallest round bucket size whose aligned buckets cover start..end in <= max_buckets (else a day)."""
    for size in BUCKET_SIZES:
        if _bucket_count(_align(start, size), end, size) <= max_buckets:
            return size
    return BUCKET_SIZES[-1]


def _align(t: datetime, minutes: int) -> datetime:
    step = timedelta(minutes=minutes)
    return EPOCH + (t - EPOCH) // step * step


def _bucket_count(first: datetime, end: datetime, minutes: int) -> int:
    whole, rest = divmod(end - first, timedelta(minutes=minutes))
    return max(1, whole + (1 if rest else 0))


@dataclass(frozen=True)
class _Frame:
    """The plot area in pixels and the time span it shows."""

    left: float
    top: float
    right: float
    bottom: float
    start: datetime
    end: datetime

    def x(self, t: datetime) -> float:
        return self.left + (t - self.start) / (self.end - self.start) * (self.right - self.left)


@dataclass(frozen=True)
class _Flag:
    """Status changes drawn together: one dashed line each, one label in one row."""

    members: tuple[tuple[datetime, str], ...]
    xs: tuple[float, ...]
    text: str
    row: int
    anchor: str


def flood_chart_svg(buckets: Sequence[tuple[datetime, int]], *, bucket_minutes: int,
                    markers: Iterable[tuple[datetime, str]] = (), width: int = 720, height: int = 220,
                    label: str = "Linked tickets over time", chart_id: str = "flood-chart") -> Markup:
    """An accessible, CSP-safe SVG bar chart of ticket counts with dashed status-change markers."""
    if bucket_minutes < 1 or width < 240 or height < 120:
        raise ValueError("bucket_minutes must be >= 1, width >= 240 and height >= 120")
    ids = (f"{chart_id}-title", f"{chart_id}-desc")
    if not buckets:
        return svg_document(CLASS, width, height, ids, label, "No tickets yet.", [_no_tickets(width / 2, height / 2)])
    start, end = buckets[0][0], buckets[-1][0] + timedelta(minutes=bucket_minutes)
    flags = _place_flags(markers, start=start, end=end, width=width)
    rows = max((f.row + 1 for f in flags), default=0)
    frame = _Frame(LEFT, TOP_PAD + 4 + rows * ROW_HEIGHT, width - RIGHT_PAD, height - BOTTOM_PAD, start, end)
    peak = max(count for _, count in buckets)
    parts = _y_axis(frame, peak, bucket_minutes) + _x_axis(frame, bucket_minutes)
    parts += _bars(frame, buckets, bucket_minutes, peak) if peak else [
        _no_tickets((frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2)]
    parts += [_flag_svg(frame, flag) for flag in flags]
    return svg_document(CLASS, width, height, ids, label, _describe(buckets, bucket_minutes, flags), parts)


def svg_document(css_class: str, width: int, height: int, ids: tuple[str, str], label: str, desc: str,
                 parts: list[str]) -> Markup:
    """An accessible SVG chart (title and description, as Tocsin's charts draw them) around its parts."""
    title_id, desc_id = (escape(i) for i in ids)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{title_id} {desc_id}" '
            f'font-family="{FONT}" font-size="11" fill="{INK}">'
            f'<title id="{title_id}">{escape(label)}</title><desc id="{desc_id}">{escape(desc)}</desc>')
    return Markup(head + "".join(parts) + "</svg>")


def _no_tickets(x: float, y: float) -> str:
    return (f'<text class="empty" x="{_n(x)}" y="{_n(y)}" text-anchor="middle" font-size="13" '
            f'fill="{MUTED}">No tickets yet</text>')


def _y_axis(frame: _Frame, peak: int, bucket_minutes: int) -> list[str]:
    """Gridline and label for the peak, 0 on the baseline, and the unit along the side."""
    mid = (frame.top + frame.bottom) / 2
    parts = [_y_label(frame, frame.bottom, 0),
             f'<text class="y-unit" x="12" y="{_n(mid)}" transform="rotate(-90 12 {_n(mid)})" '
             f'text-anchor="middle" font-size="10" fill="{MUTED}">tickets / {_duration(bucket_minutes)}</text>']
    if peak:
        parts += [_hline("grid", frame, frame.top, GRID), _y_label(frame, frame.top, peak)]
    return parts


def _y_label(frame: _Frame, y: float, value: int) -> str:
    return (f'<text class="y-label" x="{_n(frame.left - 8)}" y="{_n(y + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{value}</text>')


def _hline(cls: str, frame: _Frame, y: float, colour: str) -> str:
    return (f'<line class="{cls}" x1="{_n(frame.left)}" y1="{_n(y)}" x2="{_n(frame.right)}" y2="{_n(y)}" '
            f'stroke="{colour}"/>')


def _x_axis(frame: _Frame, bucket_minutes: int) -> list[str]:
    """The baseline with a handful of ticks at round times: HH:MM, or the date at midnight on long ranges."""
    span = (frame.end - frame.start) // timedelta(minutes=1)
    step = _label_step(span, bucket_minutes, max_labels=max(2, int((frame.right - frame.left) // 90)))
    long_range = span > 1440
    parts = [_hline("axis", frame, frame.bottom, AXIS)]
    t = _align(frame.start, step)
    t = t if t >= frame.start else t + timedelta(minutes=step)
    while t < frame.end:
        x, y, text = _n(frame.x(t)), frame.bottom, _day(t) if long_range and _hhmm(t) == "00:00" else _hhmm(t)
        parts.append(f'<line class="tick" x1="{x}" y1="{_n(y)}" x2="{x}" y2="{_n(y + 4)}" stroke="{AXIS}"/>'
                     f'<text class="x-label" x="{x}" y="{_n(y + 17)}" text-anchor="middle" fill="{MUTED}">{text}</text>')
        t += timedelta(minutes=step)
    return parts


def _label_step(span_minutes: int, bucket_minutes: int, *, max_labels: int) -> int:
    """A round label interval, a multiple of the bucket size, giving at most `max_labels` labels."""
    for step in LABEL_STEPS:
        if step % bucket_minutes == 0 and span_minutes / step <= max_labels:
            return step
    return bucket_minutes * -(-span_minutes // (bucket_minutes * max_labels))


def _bars(frame: _Frame, buckets: Sequence[tuple[datetime, int]], bucket_minutes: int, peak: int) -> list[str]:
    """One bar per non-empty bucket, with a hover title; at least 2px tall so a single ticket shows."""
    size, scale = timedelta(minutes=bucket_minutes), (frame.bottom - frame.top) / peak
    long_range = frame.end - frame.start > timedelta(days=1)
    parts = []
    for start, count in buckets:
        if not count:
            continue
        x0, x1 = frame.x(start), frame.x(start + size)
        bar_width = min(max((x1 - x0) * 0.8, 1.0), 56)
        h = max(count * scale, 2.0)
        when = f"{_day(start)} {_hhmm(start)}" if long_range else _hhmm(start)
        parts.append(f'<rect class="bar" x="{_n((x0 + x1 - bar_width) / 2)}" y="{_n(frame.bottom - h)}" '
                     f'width="{_n(bar_width)}" height="{_n(h)}" rx="1.5" fill="{BAR}">'
                     f'<title>{when} — {_tickets(count)}</title></rect>')
    return parts


def _place_flags(markers: Iterable[tuple[datetime, str]], *, start: datetime, end: datetime,
                 width: int) -> list[_Flag]:
    """Markers within start..end with staggered labels; one with no free row shares its predecessor's label."""
    frame = _Frame(LEFT, 0, width - RIGHT_PAD, 0, start, end)
    inside = sorted((m for m in markers if start <= _aware(m[0], "marker time") <= end), key=lambda m: m[0])
    groups = [[marker] for marker in inside]
    while True:
        flags = _try_rows(groups, frame, width)
        if len(flags) == len(groups):
            return flags
        merged = len(flags)  # >= 1: the first group always finds row 0 empty
        groups[merged - 1:merged + 1] = [groups[merged - 1] + groups[merged]]


def _try_rows(groups: list[list[tuple[datetime, str]]], frame: _Frame, width: int) -> list[_Flag]:
    """Put each group's label in the first row where it overlaps nothing; stop at a group that fits nowhere."""
    taken: list[tuple[float, float, int]] = []  # (x0, x1, row) of labels; row -1-r: lines from row r down
    flags: list[_Flag] = []
    for group in groups:
        xs, text = tuple(frame.x(at) for at, _ in group), _group_text(group)
        w = len(text) * CHAR_WIDTH
        anchor = "start" if xs[-1] + 4 + w <= width - 4 else "end"
        x0, x1 = (xs[-1] + 4, xs[-1] + 4 + w) if anchor == "start" else (xs[0] - 4 - w, xs[0] - 4)
        row = next((r for r in range(MAX_ROWS) if _free(taken, (xs[0] - 2, xs[-1] + 2), (x0, x1), r)), None)
        if row is None:
            return flags
        taken += [(x0 - 6, x1 + 6, row), (xs[0] - 2, xs[-1] + 2, -row - 1)]
        flags.append(_Flag(tuple(group), xs, text, row, anchor))
    return flags


def _free(taken: list[tuple[float, float, int]], line: tuple[float, float], label: tuple[float, float],
          row: int) -> bool:
    """Whether a label in `row`, and lines from `row` down, would overlap nothing placed so far."""
    def overlaps(a: float, b: float, span: tuple[float, float]) -> bool:
        return a < span[1] and span[0] < b

    for a, b, r in taken:
        if r < 0 and -r - 1 <= row and overlaps(a, b, label):
            return False  # an earlier line passes through this label
        if r >= 0 and (r == row and overlaps(a, b, label) or r >= row and overlaps(a, b, line)):
            return False  # a label in this row, or a label these lines would cross
    return True


def _group_text(group: list[tuple[datetime, str]]) -> str:
    names = [text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…" for _, text in group]
    return " → ".join(names if len(names) <= 2 else [names[0], "…", names[-1]])


def _flag_svg(frame: _Frame, flag: _Flag) -> str:
    """Dashed vertical lines from the flag's label row to the baseline, the label beside their top."""
    y_text = TOP_PAD + flag.row * ROW_HEIGHT
    tx = flag.xs[-1] + 4 if flag.anchor == "start" else flag.xs[0] - 4
    title = ", ".join(f"{text} at {_hhmm(at)} UTC" for at, text in flag.members)
    lines = "".join(f'<line class="marker" x1="{_n(x)}" y1="{_n(y_text - 10)}" x2="{_n(x)}" y2="{_n(frame.bottom)}" '
                    f'stroke="{MARKER}" stroke-width="1.5" stroke-dasharray="4 3"/>' for x in flag.xs)
    return (f'<g class="marker-group"><title>{escape(title)}</title>{lines}'
            f'<text class="marker-label" x="{_n(tx)}" y="{_n(y_text)}" text-anchor="{flag.anchor}" '
            f'font-weight="600" fill="{MARKER}">{escape(flag.text)}</text></g>')


def _describe(buckets: Sequence[tuple[datetime, int]], bucket_minutes: int, flags: list[_Flag]) -> str:
    """The chart in words: total, peak bucket, bucket size and status changes."""
    start, end = buckets[0][0], buckets[-1][0] + timedelta(minutes=bucket_minutes)
    total = sum(count for _, count in buckets)
    span = f"from {_stamp(start)} to {_stamp(end)} UTC, in {_duration(bucket_minutes)} buckets"
    if not total:
        text = f"No tickets yet {span}."
    else:
        peak_at, peak = max(buckets, key=lambda b: (b[1], -b[0].timestamp()))
        text = f"{_tickets(total)} {span}. Peak: {_tickets(peak)} in the bucket starting {_stamp(peak_at)}."
    if flags:
        changes = (f"{name} at {_stamp(at)}" for flag in flags for at, name in flag.members)
        text += " Status changes: " + "; ".join(changes) + "."
    return text


def _tickets(count: int) -> str:
    return f"{count} ticket" if count == 1 else f"{count} tickets"


def _duration(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day{'s' if minutes > 1440 else ''}"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _hhmm(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%H:%M")


def _day(t: datetime) -> str:
    t = t.astimezone(timezone.utc)
    return f"{t.day} {MONTHS[t.month - 1]}"


def _stamp(t: datetime) -> str:
    return f"{_day(t)} {_hhmm(t)}"


def coordinate(value: float) -> str:
    """A coordinate with at most one decimal, without trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


_n = coordinate   # short, inside the SVG strings


def _aware(value: datetime, name: str) -> datetime:
    """The value itself, if it carries a timezone; naive times are refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {value!r}")
    return value
