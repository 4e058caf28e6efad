"""The migrated schema equals the models: Alembic's autogenerate compare finds nothing to do."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.db import Base, make_engine


def test_migrations_match_the_models(database_url):
    # database_url was built by running every migration (see conftest)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_db_upgrade_builds_a_fresh_sqlite_file(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from sqlalchemy import inspect

    from gateway.cli import main

    db = tmp_path / "fresh.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{db}")
    assert {"contacts", "inbound_messages", "reports", "due_items", "alembic_version"} <= set(
        inspect(engine).get_table_names())
    engine.dispose()
