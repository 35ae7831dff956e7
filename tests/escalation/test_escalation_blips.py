"""The database's connections killed (pg_terminate_backend, as a PostgreSQL restart does) in the middle
of a burst of escalation deadlines: the worker carries on on new connections, and every deadline
fires exactly once, in the tick that was due — none lost with the dead connection, none twice."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from incident import clock, worker
from incident.escalation import service as escalation
from incident.escalation.models import EscalationStep
from incident.extensions import db
from incident.incidents.models import TimelineEvent
from incident.outbox.models import Delivery

from ..conftest import TEST_DATABASE_URL
from ..helpers import declare

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL,
                                reason="terminating the worker's connections (pg_terminate_backend) needs PostgreSQL")
INCIDENTS = 30
BATCH = 10   # three batches, so the kill falls between two of them or inside one


def kill_connections(database_url: str) -> int:
    """Every other connection to this database terminated from outside; how many."""
    outside = create_engine(database_url, poolclass=NullPool)
    try:
        with outside.connect() as conn:
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
            conn.commit()
            return killed
    finally:
        outside.dispose()


@pytest.mark.parametrize("when", ["between_batches", "inside_a_batch"])
def test_a_burst_of_deadlines_fires_each_once_through_killed_connections(app, api, setup, channels, database_url,
                                                                          monkeypatch, when):
    ids = [declare(api, title=f"Outage {n}")["id"] for n in range(INCIDENTS)]
    for incident_id in ids:
        assert api.post(f"/api/v1/incidents/{incident_id}/escalate", json={}).status_code == 200
    monkeypatch.setattr(worker, "ESCALATION_BATCH", BATCH)
    killed: list[int] = []
    if when == "between_batches":   # the first batch committed; the connections it will reuse are dead
        real_due = worker.process_due

        def process_due(*, limit):
            advanced = real_due(limit=limit)
            if not killed:
                killed.append(kill_connections(database_url))
            return advanced

        monkeypatch.setattr(worker, "process_due", process_due)
    else:                           # the second batch's transaction loses its connection half-way
        real_page, paged = escalation._page_steps, []

        def page_steps(*args, **kwargs):
            paged.append(1)
            if len(paged) == BATCH + 1 and not killed:
                killed.append(kill_connections(database_url))
            return real_page(*args, **kwargs)

        monkeypatch.setattr(escalation, "_page_steps", page_steps)
    clock.advance(hours=1, seconds=1)   # every L1 deadline (60 minutes) has passed, all together

    worker.tick(app)                    # one tick: the burst, the kill, the rest of the burst

    assert killed and killed[0] >= 1
    with app.app_context():
        levels = Counter(dict(db.session.execute(select(EscalationStep.incident_id, func.count())
                                                 .group_by(EscalationStep.incident_id)).tuples().all()))
        breached = db.session.execute(select(EscalationStep.incident_id, EscalationStep.deadline,
                                             EscalationStep.breached_at)
                                      .where(EscalationStep.level_name == "L1")).all()
        fired = Counter(db.session.scalars(select(TimelineEvent.incident_id)
                                           .where(TimelineEvent.kind == "escalation_breached")))
        late = db.session.scalar(select(func.count()).select_from(TimelineEvent)
                                 .where(TimelineEvent.kind == "deadline_late"))
        pages = db.session.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.purpose == "page", Delivery.recipient == "UBOB"))
        db.session.remove()
    assert levels == {i: 2 for i in ids}                 # L1, then L2: one next level each
    assert fired == {i: 1 for i in ids}                  # each deadline fired once
    assert late == 0 and all(at is not None and (at - due).total_seconds() <= 1 for _, due, at in breached)
    assert pages == INCIDENTS                            # L2 paged once per incident
    assert Counter(to for to, _ in channels["slack"].sent)["UBOB"] == INCIDENTS

    clock.advance(seconds=30)          # later ticks find nothing more to do
    worker.tick(app)
    worker.tick(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EscalationStep)) == 2 * INCIDENTS
        assert db.session.scalar(select(func.count()).select_from(TimelineEvent)
                                 .where(TimelineEvent.kind == "escalation_breached")) == INCIDENTS
        db.session.remove()
    assert Counter(to for to, _ in channels["slack"].sent)["UBOB"] == INCIDENTS
