"""The snapshot the public page and /api/v2 are served from.

Every public change bumps `status_page_state.version` in its own transaction. Each process
keeps the bodies it rendered for one (version, day) and checks the version at most every
STATUS_SNAPSHOT_CHECK_SECONDS (a change committed in this process is seen at once). So a
storm of refreshes costs no database work and no rendering, several gunicorn processes
agree, and the ETag is a hash of the body: the same in every process.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import date, datetime

from flask import Flask, render_template, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..clock import utcnow
from . import fastpath, feed, statuspage
from .hooks import CHANGED
from .public import PublicPage, collect, read_version
from .view import page_view

_generation = 0   # bumped when this process commits a public change


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    global _generation
    if session.info.pop(CHANGED, False):
        _generation += 1


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop(CHANGED, None)


def page_config(app: Flask) -> dict:
    base = app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return {"page_id": app.config["STATUS_PAGE_ID"],
            "name": app.config["STATUS_PAGE_NAME"], "url": f"{base}/status", "base": base}


class Snapshot:
    """One process's rendered bodies for the current page version."""
    def __init__(self, app: Flask):
        self.app = app
        self.lock = threading.Lock()
        self.responses: dict[str, tuple] = {}   # name -> (key, etag, headers, body)
        self.key: tuple[tuple[int, datetime] | None, date] | None = None
        self.version: tuple[int, datetime] | None = None
        self.generation = -1
        self.checked_at = float("-inf")
        self.page: PublicPage | None = None
        self.bodies: dict[str, tuple[bytes, str]] = {}
        self.builds = 0   # how many times the page was collected (tests count them)

    def _key(self, app: Flask):
        ttl = app.config["STATUS_SNAPSHOT_CHECK_SECONDS"]
        now = time.monotonic()
        if self.generation != _generation or now - self.checked_at >= ttl:
            self.generation = _generation
            self.version = read_version()
            self.checked_at = now
        return self.version, utcnow().date()

    def _fresh_key(self, app: Flask):
        """The current key if it is known without asking the database, else None."""
        ttl = app.config["STATUS_SNAPSHOT_CHECK_SECONDS"]
        if self.generation != _generation or time.monotonic() - self.checked_at >= ttl:
            return None
        return self.version, utcnow().date()

    def served(self, name: str):
        """(ETag, headers, body) of a response served for `name` under the current key, if any."""
        entry = self.responses.get(name)
        if entry is None or entry[0] != self.key:
            return None
        if self._fresh_key(self.app) != entry[0]:
            return None
        return entry[1:]

    def keep(self, name: str, key, headers: list, body: bytes) -> None:
        """Keep a whole response the app served for `name` under `key` (see fastpath)."""
        with self.lock:
            if key == self.key and name in self.bodies and self.bodies[name][0] == body:
                self.responses[name] = (key, self.bodies[name][1], headers, body)

    def get(self, name: str) -> tuple[bytes, str]:
        """The body and ETag of one resource ('summary.json', 'page.it', 'feed.atom')."""
        key = self._key(self.app)
        with self.lock:
            if key != self.key:
                self.key, self.page, self.bodies, self.responses = key, None, {}, {}
            hit = self.bodies.get(name)
            if hit is None:
                if self.page is None:
                    self.page = collect(utcnow())
                    self.builds += 1
                body = _render(name, self.page, page_config(self.app))
                hit = self.bodies[name] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
            request.environ[fastpath.ENV_KEY] = (name, key)
            return hit


def _render(name: str, page, config) -> bytes:
    if name.startswith("page."):

        locale = name.split(".", 1)[1]
        return render_template("status/page.html", **page_view(page, locale, config)).encode()
    if name == "feed.atom":
        return feed.atom(page, config)
    document = statuspage.documents(page, config)[name]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def snapshot_for(app: Flask) -> Snapshot:
    snapshot = app.extensions.get("status_snapshot")
    if snapshot is None:
        snapshot = app.extensions["status_snapshot"] = Snapshot(app)
    return snapshot


def init_app(app: Flask) -> None:
    """Put the fast path in front of the app."""
    app.wsgi_app = fastpath.FastPublic(app, app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way

