"""/healthz, the worker's tick, and the promise that create_app() never starts a scheduler."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from incident import clock, create_app, worker
from incident.extensions import db
from incident.heartbeat import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_database_and_last_tick_to_staff(app, api_as, frozen):
    viewer = api_as("viewer")   # any staff token: a monitor needs no more than read access
    before = viewer.get("/healthz").get_json()
    assert before == {"status": "ok", "database": "ok", "worker": {"last_tick_at": None, "stale": True},
                      "watchdog": {"overdue_escalations": 0}}
    worker.tick(app)
    clock.advance(seconds=3)
    worker.tick(app)
    body = viewer.get("/healthz").get_json()
    assert body["worker"] == {"last_tick_at": "2026-11-22T09:00:03+00:00", "stale": False}
    with app.app_context():
        rows = db.session.scalars(select(WorkerHeartbeat)).all()
        assert len(rows) == 1 and rows[0].ticks == 2
    clock.advance(minutes=5)
    assert viewer.get("/healthz").get_json()["worker"]["stale"] is True


def test_healthz_tells_the_public_only_the_status(app, client, api_as, frozen):
    worker.tick(app)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    refused = client.get("/healthz", headers={"Authorization": "Bearer tcs_not-a-token"})
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"


def test_healthz_without_a_database_says_so():
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error"}
    # a token cannot be checked without the database: the answer stays the short one
    with_token = app.test_client().get("/healthz", headers={"Authorization": "Bearer tcs_whatever"})
    assert (with_token.status_code, with_token.get_json()) == (503, {"status": "error"})


def test_a_failing_job_does_not_stop_the_tick(app, monkeypatch, frozen):
    ran = []

    def broken(_app):
        raise RuntimeError("boom")

    monkeypatch.setattr(worker, "TICK_JOBS", [broken, lambda a: ran.append(True)])
    worker.tick(app)
    assert ran == [True]


def test_create_app_starts_no_scheduler(tmp_path):
    code = ("import sys; from incident import create_app; create_app(); "
            "assert 'apscheduler' not in sys.modules, 'create_app imported apscheduler'")
    env = {**os.environ, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_worker_command_ticks(app, database_url):
    """`flask --app wsgi worker` really runs the scheduler and records heartbeats."""
    env = {**os.environ, "SECRET_KEY": "x", "DATABASE_URL": database_url, "SCHEDULER_TICK_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ticks = 0
        for _ in range(150):  # up to 30 s for the process to start and tick twice
            try:
                proc.wait(timeout=0.2)
                raise AssertionError(f"worker exited: {proc.stderr.read()}")
            except subprocess.TimeoutExpired:
                pass
            with app.app_context():
                ticks = db.session.scalar(select(WorkerHeartbeat.ticks)) or 0
                db.session.remove()
            if ticks >= 2:
                break
        assert ticks >= 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()
