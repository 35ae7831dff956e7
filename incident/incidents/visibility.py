"""Private incidents: who may see one, in one place.

A private incident (a security breach) is seen by its members — the declarer, crisis-role holders,
the responders it paged, and staff a member lead added — and by admins; to everyone else it does
not exist (404, left out of every list, report, export and search). It never reaches the public
status page or subscribers (status/ asks `public_incidents()`), unless a lead deliberately makes
it public again.

Who is asking (models.py: `viewer`, and `may_see`, which `Incident.get_or_raise` uses): the staff
member behind the request (`g.user`, set by the API token or the web session). Work without a
staff member behind it — the worker, webhooks answered for a provider — is Tocsin itself and sees
everything; what it sends out is already decided by the rules above.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select, true

from ..auth.models import User
from ..clock import utcnow
from ..dbutil import insert_ignoring_conflicts
from ..extensions import db
from .models import Incident, IncidentMember, sees_everything, viewer

MEMBER_HOW = ("declared", "role", "paged", "added")


def visible(user: User | None = None) -> ColumnElement[bool]:
    """A WHERE clause on `incidents`: the ones `user` (default: the one behind this request) may see."""
    user = user if user is not None else viewer()
    if sees_everything(user):
        return true()
    assert user is not None
    return or_(Incident.private.is_(False),
               Incident.id.in_(select(IncidentMember.incident_id).where(IncidentMember.user_id == user.id)))


def hidden_incidents(incident_ids: Iterable[int | None], user: User | None = None) -> set[int]:
    """Of these incidents, the private ones `user` (default: the one behind this request) may not see:
    a list of tickets shows no link to them, as if the ticket were not linked."""
    ids = {i for i in incident_ids if i}
    user = user if user is not None else viewer()
    if not ids or sees_everything(user):
        return set()
    return set(db.session.scalars(select(Incident.id).where(Incident.id.in_(ids), Incident.private.is_(True),
                                                           ~visible(user))))


def visible_ids(user: User | None = None):
    """The incidents `user` may see, as a subquery of ids, for tables that point at incidents."""
    return select(Incident.id).where(visible(user))


def public_incidents() -> ColumnElement[bool]:
    """A WHERE clause on `incidents`: the ones that may reach the public (status page, subscribers)."""
    return Incident.private.is_(False)


def add_members(incident_id: int, users: Iterable[User | int | None], how: str, *,
                by: User | None = None) -> None:
    """Record people as members of the incident (flush-level, no commit); members already are stay as
    they were (the first way in is kept)."""
    assert how in MEMBER_HOW
    ids = {u if isinstance(u, int) else u.id for u in users if u is not None}
    if not ids:
        return
    now = utcnow()
    db.session.execute(insert_ignoring_conflicts(IncidentMember, ["incident_id", "user_id"]),
                       [{"incident_id": incident_id, "user_id": uid, "how": how, "added_at": now,
                         "added_by_id": by.id if by else None} for uid in sorted(ids)])
