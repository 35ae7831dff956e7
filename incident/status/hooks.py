"""What the rest of Tocsin calls when something the public page shows may have changed.

`bump_version` runs in the caller's transaction, so the page changes exactly when the change
commits; a rolled-back change leaves the page alone.
"""
from __future__ import annotations

from sqlalchemy import select, update

from ..clock import utcnow
from ..dbutil import execute_dml, insert_ignoring_conflicts
from ..extensions import db
from ..incidents.models import IncidentUpdate
from ..incidents.signals import incident_changed as changed_signal
from .history import record_states
from .models import StatusPageState

CHANGED = "status_page_changed"


def bump_version() -> None:
    """Mark the public page changed, in the current transaction (no commit)."""
    now = utcnow()
    bump = (update(StatusPageState).where(StatusPageState.id == 1)
            .values(version=StatusPageState.version + 1, updated_at=now)
            .execution_options(synchronize_session=False))
    if execute_dml(bump).rowcount == 0:
        db.session.execute(insert_ignoring_conflicts(StatusPageState, ["id"]),
                           [{"id": 1, "version": 0, "updated_at": now}])
        db.session.execute(bump)
    db.session.info[CHANGED] = True


def is_published(incident_id: int) -> bool:
    """An incident is on the public page once it has a public update (a private one's are withdrawn:
    `record_states` shows it affecting nothing, and the page leaves it out)."""
    return db.session.scalar(select(IncidentUpdate.id).where(
        IncidentUpdate.incident_id == incident_id, IncidentUpdate.public.is_(True)).limit(1)) is not None


def incident_changed(incident_id: int) -> None:
    """After a flushed change to an incident: if the incident is on the page, record what it now
    does to its components and bump the page."""
    db.session.flush()
    if is_published(incident_id):
        record_states([incident_id])
        bump_version()


@changed_signal.connect
def _on_incident_changed(incident_id: int, **_) -> None:
    incident_changed(incident_id)
