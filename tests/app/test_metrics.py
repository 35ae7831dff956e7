"""GET /metrics: who may read it, and figures a Prometheus scrape can parse (prometheus-client's own
parser) that move with what Tocsin does — on the moved clock, and across processes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from incident import clock, worker

from ..helpers import declare, ingest

ROOT = Path(__file__).resolve().parents[2]


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def value(figures, name, **labels) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def test_only_loopback_without_a_token_and_only_the_token_with_one(app, client, monkeypatch):
    assert client.get("/metrics").status_code == 200                       # the test client is 127.0.0.1
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 403 and "METRICS_TOKEN" in far.get_data(as_text=True)
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"},
                      environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_outbox_deadlines_sends_ingest_and_latency_move_with_what_happens(app, client, api, setup):
    before = scrape(client)
    ingest(api, {"tickets": [{"external_id": f"ZD-{n}", "source": "email", "subject": "Cannot log in"}
                             for n in range(3)]})
    incident = declare(api)
    assert api.post(f"/api/v1/incidents/{incident['id']}/escalate", json={}).status_code == 200
    clock.advance(seconds=90)
    queued = scrape(client)
    assert value(queued, "tocsin_outbox_depth", channel="sms", purpose="page") >= 1
    assert value(queued, "tocsin_outbox_oldest_due_age_seconds", channel="sms") == 90
    assert value(queued, "tocsin_tickets_ingested_total", outcome="created") - value(
        before, "tocsin_tickets_ingested_total", outcome="created") == 3
    route = "/api/v1/incidents/<incident_id>/escalate"
    assert value(queued, "tocsin_http_request_duration_seconds_count", method="POST", route=route, status="2xx") - \
        value(before, "tocsin_http_request_duration_seconds_count", method="POST", route=route, status="2xx") == 1

    worker.tick(app)                                          # the pages go (to the sandbox)
    sent = scrape(client)
    assert value(sent, "tocsin_outbox_depth", channel="sms", purpose="page") == 0
    assert value(sent, "tocsin_sends_total", channel="sms", result="sent") - value(
        before, "tocsin_sends_total", channel="sms", result="sent") >= 1
    assert value(sent, "tocsin_outbox_messages", channel="sms", status="sent") >= 1
    assert value(sent, "tocsin_escalation_deadline_lag_seconds") == 0
    assert any(name == "tocsin_worker_last_tick_age_seconds" for name, _ in sent)

    clock.advance(hours=1, minutes=2)                         # L1's hour is up, and no tick has run since
    late = scrape(client)
    assert value(late, "tocsin_escalation_deadline_lag_seconds") == 90 + 62 * 60 - 3600   # due an hour after paging


WORKER = """
import sys
from incident import metrics
metrics.count_send("email", "sent"); metrics.count_send("email", "sent"); metrics.count_send("email", "failed")
"""
WEB = """
import os
from incident import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": os.environ["URL"]})
with app.app_context():
    from incident.extensions import db
    db.create_all()
print(app.test_client().get("/metrics").get_data(as_text=True))
"""


def test_the_worker_counts_reach_the_webs_metrics_through_the_multiprocess_directory(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR: one process counts (as the worker does), another serves /metrics."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "URL": f"sqlite:///{tmp_path}/m.db",
           "PYTHONPATH": str(ROOT)}
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
    for _ in range(2):                                        # two worker processes
        subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, cwd=tmp_path)
    text = subprocess.run([sys.executable, "-c", WEB], env=env, check=True, cwd=tmp_path, capture_output=True,
                          text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("tocsin_sends_total", (("channel", "email"), ("result", "sent")))] == 4
    assert samples[("tocsin_sends_total", (("channel", "email"), ("result", "failed")))] == 2
