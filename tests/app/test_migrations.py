"""Migrations: one head, and upgrading an empty database yields exactly the models' schema."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from incident import create_app
from incident.extensions import db
from incident.tickets.models import include_object

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def test_single_head():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def scratch_database(database_url: str, tmp_path) -> str:
    """An empty database of the same kind as the suite's."""
    if not database_url.startswith("postgresql"):
        return f"sqlite:///{tmp_path}/migrations.sqlite3"
    url = make_url(database_url)
    name = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_upgrade_from_empty_matches_models_and_downgrades(database_url, tmp_path):
    url = scratch_database(database_url, tmp_path)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_private_incidents_revision_makes_members_of_the_people_already_involved(database_url, tmp_path):
    """0016's backfill on a database with history (the demo's, its members taken away): declarers,
    crisis-role holders and paged responders become the incidents' members, each once."""
    spec = importlib.util.spec_from_file_location("m0016", MIGRATIONS / "versions" / "0016_private_incidents.py")
    assert spec and spec.loader
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    url = scratch_database(database_url, tmp_path)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade()
        assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
        expected = {row for query in ("SELECT id, declared_by_id FROM incidents",
                                      "SELECT incident_id, user_id FROM role_assignments",
                                      "SELECT incident_id, user_id FROM deliveries WHERE purpose = 'page' "
                                      "AND user_id IS NOT NULL")
                    for row in db.session.execute(text(query)).tuples()}
        declared = set(db.session.execute(text("SELECT id, declared_by_id FROM incidents")).tuples())
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM incident_members"))
            for how, source in revision.BACKFILL:
                conn.execute(text(revision.INSERT.format(how=how, source=source)))
            members = list(conn.execute(text("SELECT incident_id, user_id, how FROM incident_members")).tuples())
        assert len(members) == len({(i, u) for i, u, _ in members})          # each once
        assert {(i, u) for i, u, _ in members} == expected
        assert {(i, u) for i, u, how in members if how == "declared"} == declared
        db.engine.dispose()


def test_a_batch_migration_keeps_the_rows_that_refer_to_the_table_it_copies(database_url, tmp_path):
    """0023 copies `deliveries` on SQLite (dropping foreign keys needs a new table): with foreign keys enforced
    during the copy, dropping the old table would delete the webhook messages of every delivery and forget
    the helpdesk syncs' deliveries. Every table keeps its rows, and the app's connections enforce keys again."""
    url = scratch_database(database_url, tmp_path)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(revision="0022")
        assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO webhook_endpoints (url, events, secret, description, created_at, created_by) "
                              "VALUES ('https://hooks.example.com/t', '[]', 'whsec_x', '', CURRENT_TIMESTAMP, 'test')"))
            conn.execute(text("INSERT INTO webhook_messages (endpoint_id, delivery_id, event_id, event_type, created_at) "
                              "SELECT (SELECT max(id) FROM webhook_endpoints), id, 'msg_' || id, 'incident.updated', "
                              "CURRENT_TIMESTAMP FROM deliveries"))
        tables = [t for t in inspect(db.engine).get_table_names()
                  if t != "alembic_version" and not t.startswith("ticket_tags_fts")]

        def counts() -> dict[str, int]:
            with db.engine.connect() as conn:
                return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}

        before = counts()
        assert before["webhook_messages"] == before["deliveries"] > 0
        flask_migrate.upgrade()
        assert counts() == before
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        db.session.remove()
        db.engine.dispose()
