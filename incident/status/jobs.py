"""The status page's worker job: maintenance windows move on their own, and notices go out before."""
from __future__ import annotations

from flask import Flask

from ..extensions import db
from .service import advance_maintenances, queue_maintenance_notices


def status_page(app: Flask) -> None:
    """Start and complete due maintenance windows; queue notices for windows about to start."""
    with app.app_context():
        try:
            advance_maintenances()
            queue_maintenance_notices()
        except Exception:
            db.session.rollback()
            raise
