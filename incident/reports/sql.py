"""The SQL pieces reports need that SQLite and PostgreSQL spell differently, and percentiles in
portable SQL.

Percentiles: one window-function query that both databases run the same way (ROW_NUMBER and
COUNT over the group, then linear interpolation between the two closest ranks, in integer
arithmetic), so a figure is the same on either database and no duration list is fetched. It is
PostgreSQL's `percentile_cont` (tests check the two agree there); SQLite has no percentile
function before 3.47, and then only as an optional extension.
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Float, String, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..types import UTCDateTime
from ..vocabulary import DeliveryStatus


class seconds_between(FunctionElement):  # noqa: N801  (used like a SQL function)
    """Whole seconds from `start` to `end` (two UTC timestamps); NULL when either is NULL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    # Timestamps are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); julianday reads them to ~50 µs.
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS DOUBLE PRECISION)"


class week_of(FunctionElement):  # noqa: N801
    """The Monday (YYYY-MM-DD) of the ISO week a UTC timestamp falls in."""

    type = String()
    inherit_cache = True
    name = "week_of"


@compiles(week_of, "sqlite")
def _week_sqlite(element, compiler, **kw) -> str:
    (at,) = (compiler.process(clause, **kw) for clause in element.clauses)
    # 'weekday 0' moves forward to the Sunday ending the week (a Sunday stays), then back to its Monday.
    return f"date({at}, 'weekday 0', '-6 days')"


@compiles(week_of, "postgresql")
def _week_postgresql(element, compiler, **kw) -> str:
    (at,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"to_char(date_trunc('week', {at} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


class first_broadcast_sent(FunctionElement):  # noqa: N801
    """When a provider first accepted one of an incident's broadcast messages (its row `sent` or
    `delivered`): the earliest `sent_at` in ix_deliveries_broadcast_sent whose status still says so.

    Written out because SQLite has to be told to use that partial index (INDEXED BY), which it can
    only do when the query names `purpose = 'broadcast'` as a literal, not a bound parameter: left
    to itself it reads every broadcast row of the incident through ix_deliveries_incident (six times
    slower over a year of broadcasts)."""

    type = UTCDateTime()
    inherit_cache = True
    name = "first_broadcast_sent"


_ACCEPTED = ", ".join(f"'{status}'" for status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED))


def _first_sent(element, compiler, hint: str, **kw) -> str:
    (incident_id,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return (f"(SELECT d.sent_at FROM deliveries AS d{hint} WHERE d.incident_id = {incident_id} "
            f"AND d.purpose = 'broadcast' AND d.sent_at IS NOT NULL AND d.status IN ({_ACCEPTED}) "
            "ORDER BY d.sent_at LIMIT 1)")


@compiles(first_broadcast_sent, "sqlite")
def _first_sent_sqlite(element, compiler, **kw) -> str:
    return _first_sent(element, compiler, " INDEXED BY ix_deliveries_broadcast_sent", **kw)


@compiles(first_broadcast_sent, "postgresql")
def _first_sent_postgresql(element, compiler, **kw) -> str:
    return _first_sent(element, compiler, "", **kw)


def percentiles(source, value, groups: Sequence, points: Sequence[int]):
    """SELECT groups..., count, total, p<point>... FROM source: how many values each group has, their
    sum, and each point (a whole percent) of `value`, NULL values left out, interpolated linearly as
    percentile_cont does."""
    rank = func.row_number().over(partition_by=list(groups) or None, order_by=value) - 1
    size = func.count().over(partition_by=list(groups) or None)
    ranked = (select(*groups, value.label("v"), rank.label("rn"), size.label("n"))
              .select_from(source).where(value.is_not(None)).subquery("ranked"))
    picked = []
    for point in points:
        position = (ranked.c.n - 1) * point               # the rank × 100, so all of it is whole numbers
        low = position // 100
        fraction = (position - low * 100) / 100.0
        picked.append(func.sum(case((ranked.c.rn == low, ranked.c.v * (1 - fraction)),
                                    (ranked.c.rn == low + 1, ranked.c.v * fraction), else_=0))
                      .label(f"p{point}"))
    keys = [ranked.c[g.name] for g in groups]
    return select(*keys, func.max(ranked.c.n).label("count"), func.sum(ranked.c.v).label("total"), *picked
                  ).group_by(*keys)


def words_of(stored, dialect: str):
    """A table-valued function with one row (column `value`) per word of a column stored as ' a b c '
    (tickets' tags): unnest(string_to_array(...)) on PostgreSQL; on SQLite json_each over the words
    made a JSON array, which is safe because a tag never holds a quote or a backslash (TAG_RE)."""
    if dialect == "postgresql":
        return func.unnest(func.string_to_array(func.btrim(stored), " ")).table_valued("value").render_derived()
    as_json = literal('["') + func.replace(func.trim(stored), " ", '","') + literal('"]')
    return func.json_each(as_json).table_valued("value")
