"""Alembic environment for Tocsin: the app's engine and metadata, via Flask-Migrate."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if not logging.getLogger().handlers:
    # Only when nothing configured logging yet, and never silencing the app's own loggers.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
engine = target_db.engine
config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    """Emit SQL for the migrations without a connection (`flask db upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_db.metadata,
                      literal_binds=True, **current_app.extensions["migrate"].configure_args)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations on the app's database."""

    def process_revision_directives(context, revision, directives):
        # `flask db migrate` with no schema change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies a table, drops the old one and renames the copy: with foreign keys
            # enforced, that DROP deletes (or nulls) every row referring to it in other tables. SQLite takes
            # this pragma only outside a transaction; the app's connections turn it on again when they open,
            # and this one does below before going back to the pool.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.commit()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
