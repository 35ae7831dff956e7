"""GET /metrics: Prometheus text format (prometheus-client).

Two kinds of figures:

- **Read from the database at each scrape** (a custom collector), so every process answers the same
  and nothing is lost when one restarts: the outbox's depth and the age of its oldest due message
  per channel, messages per channel and state, the escalation deadline lag, each worker's last
  heartbeat.
- **Counted where they happen** (counters and a histogram): sends per channel and result (the
  dispatchers), tickets ingested, alerts received, request latency. Under gunicorn with several
  processes, and for the worker's counts to show on the web's /metrics, set
  `PROMETHEUS_MULTIPROC_DIR` to a directory shared by the web processes and the worker on that host
  (prometheus-client's multiprocess mode; `make run` does); without it each process reports its own.

Who may read it: with `METRICS_TOKEN` set, a request bearing it (`Authorization: Bearer …`); without
it, only clients on the loopback address (Prometheus on the same host or through a sidecar).
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from .clock import utcnow
from .errors import NotAllowed, Unauthorized
from .escalation.models import IncidentEscalation
from .extensions import db
from .heartbeat import WorkerHeartbeat
from .outbox.models import Delivery
from .security import bearer_token
from .vocabulary import DeliveryStatus

bp = Blueprint("metrics", __name__)

SENDS = Counter("tocsin_sends", "Send attempts per channel and result (sent, retry, failed, skipped, cancelled)",
                ["channel", "result"])
TICKETS_INGESTED = Counter("tocsin_tickets_ingested", "Tickets taken in, by outcome", ["outcome"])
ALERTS_RECEIVED = Counter("tocsin_alerts_received", "Monitoring alerts received, by source kind", ["source"])
REQUEST_SECONDS = Histogram("tocsin_http_request_duration_seconds", "Request latency by route and status class",
                            ["method", "route", "status"],
                            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
RESULTS: dict[str, str] = {DeliveryStatus.SENT: "sent", DeliveryStatus.QUEUED: "retry", DeliveryStatus.FAILED: "failed",
           DeliveryStatus.SKIPPED: "skipped", DeliveryStatus.CANCELLED: "cancelled"}


def count_send(channel: str | None, status: str) -> None:
    """One send attempt's outcome (the row's new status), from the dispatchers."""
    if channel:
        SENDS.labels(channel, RESULTS.get(status, str(status))).inc()


class DatabaseCollector(Collector):
    """The figures read from the database at scrape time (inside the request's app context)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        depth = GaugeMetricFamily("tocsin_outbox_depth", "Messages waiting to go (queued or being sent)",
                                  labels=["channel", "purpose"])
        for channel, purpose, n in db.session.execute(
                select(Delivery.channel, Delivery.purpose, func.count()).where(Delivery.status.in_(WAITING))
                .group_by(Delivery.channel, Delivery.purpose)):
            depth.add_metric([channel, purpose], n)
        yield depth
        age = GaugeMetricFamily("tocsin_outbox_oldest_due_age_seconds",
                                "How long the oldest message that is due has waited (0: none due)", labels=["channel"])
        for channel, oldest in db.session.execute(
                select(Delivery.channel, func.min(Delivery.next_attempt_at))
                .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= now)
                .group_by(Delivery.channel)):
            age.add_metric([channel], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield age
        states = GaugeMetricFamily("tocsin_outbox_messages", "Messages kept in the outbox, by channel and state",
                                   labels=["channel", "status"])
        for channel, status, n in db.session.execute(
                select(Delivery.channel, Delivery.status, func.count()).group_by(Delivery.channel, Delivery.status)):
            states.add_metric([channel, status], n)
        yield states
        lag = GaugeMetricFamily("tocsin_escalation_deadline_lag_seconds",
                                "How far past its deadline the most overdue escalation is (0: none overdue)")
        oldest_deadline = db.session.scalar(select(func.min(IncidentEscalation.next_deadline_at)).where(
            IncidentEscalation.state == "paging", IncidentEscalation.next_deadline_at < now))
        lag.add_metric([], (now - oldest_deadline).total_seconds() if oldest_deadline else 0.0)
        yield lag
        beats = GaugeMetricFamily("tocsin_worker_last_tick_age_seconds", "Seconds since each worker's last tick",
                                  labels=["worker"])
        for worker_id, last in db.session.execute(select(WorkerHeartbeat.worker_id, WorkerHeartbeat.last_tick_at)):
            beats.add_metric([worker_id], max(0.0, (now - last).total_seconds()))
        yield beats


def _registry() -> CollectorRegistry:
    """The process's counters (all processes' in multiprocess mode) and the database's figures."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (SENDS, TICKETS_INGESTED, ALERTS_RECEIVED, REQUEST_SECONDS):
            registry.register(collector)
    registry.register(DatabaseCollector())
    return registry


def _allowed() -> None:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = bearer_token() or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("/metrics needs the metrics token (Authorization: Bearer <METRICS_TOKEN>).")
        return
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotAllowed("/metrics answers only on the loopback address unless METRICS_TOKEN is set.")


@bp.get("/metrics")
def metrics():
    _allowed()
    body = generate_latest(_registry())
    db.session.rollback()   # read-only
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Cache-Control": "no-store"})


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _finished(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        REQUEST_SECONDS.labels(request.method, route, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_started)
    app.after_request(_finished)
