"""The flood chart: bucket arithmetic, and an SVG that parses, describes itself and escapes text."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from markupsafe import Markup

from incident.tickets.chart import bucketize, choose_bucket_minutes, flood_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def parse(svg: Markup) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    return root


def find_all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if cls is None or e.get("class") == cls]


def sample_chart(**kwargs) -> tuple[Markup, list[tuple[datetime, int]]]:
    times = [T0 + minutes(m) for m in (1, 2, 3, 20, 21, 95, 95, 95, 95, 96, 170)]
    size, buckets = bucketize(times, start=T0, end=T0 + timedelta(hours=3))
    return flood_chart_svg(buckets, bucket_minutes=size, **kwargs), buckets


@pytest.mark.parametrize("span, expected", [
    (minutes(30), 1), (minutes(48), 1), (minutes(49), 2), (timedelta(hours=3), 5), (timedelta(hours=4), 5),
    (timedelta(hours=6), 10), (timedelta(hours=12), 15), (timedelta(hours=24), 30), (timedelta(hours=40), 60),
    (timedelta(days=3), 120), (timedelta(days=6), 180), (timedelta(days=10), 360), (timedelta(days=20), 720),
    (timedelta(days=40), 1440), (timedelta(days=400), 1440),
])
def test_bucket_size_is_the_smallest_round_size_that_fits(span, expected):
    assert choose_bucket_minutes(T0, T0 + span) == expected
    size, buckets = bucketize([], start=T0, end=T0 + span)
    assert size == expected
    assert len(buckets) <= 48 or expected == 1440


def test_misaligned_ranges_count_the_partial_buckets():
    start = T0 + minutes(7)  # 09:07 to 21:07 touches 49 aligned 15-minute buckets
    assert choose_bucket_minutes(start, start + timedelta(hours=12)) == 30
    assert choose_bucket_minutes(start, start + timedelta(hours=12), max_buckets=49) == 15


def test_bucket_starts_are_aligned_to_the_epoch():
    start = T0 + minutes(7)
    size, buckets = bucketize([], start=start, end=start + timedelta(hours=6))
    assert size == 10 and buckets[0][0] == T0
    size, buckets = bucketize([], start=start, end=start + timedelta(days=5))
    assert size == 180 and buckets[0][0] == T0 and buckets[1][0] == T0 + timedelta(hours=3)
    size, buckets = bucketize([], start=start, end=start + timedelta(days=40))
    assert size == 1440 and buckets[0][0] == datetime(2026, 11, 25, tzinfo=timezone.utc)


def test_counts_land_in_their_buckets_and_zero_buckets_are_kept():
    times = [T0, T0 + minutes(9), T0 + minutes(10), T0 + timedelta(minutes=29, seconds=59), T0 + minutes(50)]
    size, buckets = bucketize(times, start=T0, end=T0 + timedelta(hours=1), max_buckets=6)
    assert size == 10
    assert buckets == [(T0 + minutes(m), n) for m, n in [(0, 2), (10, 1), (20, 1), (30, 0), (40, 0), (50, 1)]]


def test_edges_and_times_outside_the_range():
    end = T0 + timedelta(hours=1)
    times = [T0 - timedelta(microseconds=1), T0, end, end + timedelta(microseconds=1)]
    size, buckets = bucketize(times, start=T0, end=end, max_buckets=6)
    assert [n for _, n in buckets] == [1, 0, 0, 0, 0, 1]  # `end` itself lands in the last bucket
    size, buckets = bucketize(times, start=T0 + minutes(3), end=end - minutes(3), max_buckets=6)
    assert (size, len(buckets), sum(n for _, n in buckets)) == (10, 6, 0)


def test_a_zero_length_range_still_has_one_bucket():
    assert bucketize([T0], start=T0, end=T0) == (1, [(T0, 1)])


def test_other_timezones_are_counted_in_utc():
    paris = timezone(timedelta(hours=1))
    size, buckets = bucketize([datetime(2026, 11, 25, 10, 5, tzinfo=paris)], start=T0, end=T0 + minutes(30))
    assert (size, buckets[5]) == (1, (T0 + minutes(5), 1))


def test_bucketize_refuses_bad_input():
    with pytest.raises(ValueError, match="before"):
        bucketize([], start=T0, end=T0 - minutes(1))
    with pytest.raises(ValueError, match="timezone"):
        bucketize([], start=T0.replace(tzinfo=None), end=T0)
    with pytest.raises(ValueError, match="max_buckets"):
        bucketize([], start=T0, end=T0, max_buckets=0)


def test_svg_parses_and_is_accessible():
    svg, _ = sample_chart()
    assert isinstance(svg, Markup)
    root = parse(svg)
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.get("role") == "img" and root.get("viewBox") == "0 0 720 220"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert (title.get("id"), title.text) == (title_id, "Linked tickets over time")
    assert desc.get("id") == desc_id


def test_one_bar_per_non_empty_bucket_with_a_hover_title():
    svg, buckets = sample_chart()
    bars = find_all(parse(svg), "rect", "bar")
    assert len(bars) == sum(1 for _, n in buckets if n) == 4
    assert {bar.get("fill") for bar in bars} == {"#1f4fa3"}
    titles = [bar.find(f"{SVG}title").text for bar in bars]
    assert titles == ["09:00 — 3 tickets", "09:20 — 2 tickets", "10:35 — 5 tickets", "11:50 — 1 ticket"]


def test_taller_bars_for_bigger_counts():
    svg, _ = sample_chart()
    heights = {bar.find(f"{SVG}title").text: float(bar.get("height")) for bar in find_all(parse(svg), "rect", "bar")}
    assert heights["10:35 — 5 tickets"] > heights["09:00 — 3 tickets"] > heights["11:50 — 1 ticket"] > 0


def test_desc_mentions_total_peak_and_bucket_size():
    svg, _ = sample_chart()
    desc = parse(svg).find(f"{SVG}desc").text
    assert "11 tickets" in desc and "5 min buckets" in desc
    assert "Peak: 5 tickets in the bucket starting 25 Nov 10:35" in desc


def test_axes_show_the_peak_zero_and_round_times():
    svg, _ = sample_chart()
    root = parse(svg)
    assert [t.text for t in find_all(root, "text", "y-label")] == ["0", "5"]
    assert [t.text for t in find_all(root, "text", "x-label")] == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]


def test_long_ranges_label_days():
    start = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    size, buckets = bucketize([start + timedelta(hours=h) for h in range(60)], start=start,
                              end=start + timedelta(days=2, hours=12))
    root = parse(flood_chart_svg(buckets, bucket_minutes=size))
    labels = [t.text for t in find_all(root, "text", "x-label")]
    assert "25 Nov" in labels and "26 Nov" in labels
    assert find_all(root, "rect", "bar")[0].find(f"{SVG}title").text.startswith("24 Nov 06:00 — ")


def test_markers_are_dashed_lines_with_labels_and_out_of_range_ones_are_skipped():
    markers = [(T0 + minutes(10), "investigating"), (T0 + minutes(95), "identified"),
               (T0 - minutes(1), "declared"), (T0 + timedelta(hours=4), "resolved")]
    svg, _ = sample_chart(markers=markers)
    root = parse(svg)
    lines = find_all(root, "line", "marker")
    assert len(lines) == 2
    assert {(line.get("stroke"), line.get("stroke-dasharray")) for line in lines} == {("#b3261e", "4 3")}
    assert all(line.get("x1") == line.get("x2") for line in lines)
    assert [t.text for t in find_all(root, "text", "marker-label")] == ["investigating", "identified"]
    assert "identified at 25 Nov 10:35" in root.find(f"{SVG}desc").text
    assert "declared" not in str(svg) and "resolved" not in str(svg)


def test_marker_labels_and_the_title_are_escaped():
    evil = "<script>alert(1)</script>"
    svg, _ = sample_chart(markers=[(T0 + minutes(30), evil)], label='Tickets & "floods" <b>', chart_id='x"y')
    assert "<script>" not in str(svg) and "<b>" not in str(svg) and 'x"y' not in str(svg)
    root = parse(svg)
    assert [t.text for t in find_all(root, "text", "marker-label")] == [evil]
    assert root.find(f"{SVG}title").text == 'Tickets & "floods" <b>'


def test_eight_close_markers_get_labels_that_do_not_overlap():
    statuses = ["investigating", "identified", "monitoring", "identified", "monitoring", "resolved",
                "investigating", "identified"]
    svg, _ = sample_chart(markers=[(T0 + minutes(60 + 4 * i), s) for i, s in enumerate(statuses)])
    root = parse(svg)
    assert len(find_all(root, "line", "marker")) == 8
    boxes = []
    for text in find_all(root, "text", "marker-label"):
        x, w = float(text.get("x")), len(text.text) * 6.2
        x0 = x if text.get("text-anchor") == "start" else x - w
        boxes.append((x0, x0 + w, float(text.get("y"))))
    for i, (a0, a1, ay) in enumerate(boxes):
        for b0, b1, by in boxes[i + 1:]:
            assert ay != by or a1 <= b0 or b1 <= a0, (boxes, i)
    for line in find_all(root, "line", "marker"):  # no dashed line runs through a label
        x, top = float(line.get("x1")), float(line.get("y1"))
        assert all(not x0 <= x <= x1 or y < top for x0, x1, y in boxes), (x, top, boxes)


def test_empty_buckets_render_no_tickets_yet():
    root = parse(flood_chart_svg([], bucket_minutes=15, markers=[(T0, "investigating")]))
    assert "No tickets yet" in root.find(f"{SVG}desc").text
    assert [t.text for t in find_all(root, "text")] == ["No tickets yet"]
    assert find_all(root, "rect", "bar") == []


def test_all_zero_buckets_keep_the_axis_and_markers():
    size, buckets = bucketize([], start=T0, end=T0 + timedelta(hours=1))
    root = parse(flood_chart_svg(buckets, bucket_minutes=size, markers=[(T0 + minutes(5), "investigating")]))
    assert find_all(root, "rect", "bar") == []
    assert "No tickets yet" in [t.text for t in find_all(root, "text", "empty")]
    assert len(find_all(root, "line", "marker")) == 1


def test_no_inline_styles_anywhere():
    svg, _ = sample_chart(markers=[(T0 + minutes(30), "identified")])
    root = parse(svg)
    assert "style=" not in str(svg)
    assert all("style" not in element.attrib for element in root.iter())
    assert find_all(root, "style") == []


def test_size_and_chart_id_are_configurable():
    svg, _ = sample_chart(width=480, height=160, chart_id="incident-42-flood")
    root = parse(svg)
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("480", "160", "0 0 480 160")
    assert root.get("aria-labelledby") == "incident-42-flood-title incident-42-flood-desc"
