"""Migrations go up and down on SQLite and on PostgreSQL, and the schema works."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from shared.db.engine import build_engine, build_sessionmaker
from shared.db.migrate import downgrade, upgrade
from shared.db.models import ProxmoxEndpoint, RunStatus, SyncRun
from shared.settings import Settings, load_settings
from tests.conftest import POSTGRES_ADMIN_URL

TABLES = {"api_key", "bootstrap_claim", "netbox_endpoint", "proxmox_endpoint", "schedule", "sync_run"}


@pytest.fixture
def postgres_settings(settings: Settings) -> Iterator[Settings]:
    """A throw-away PostgreSQL database for this test, dropped afterwards."""
    name = f"proxbox_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield load_settings(**{**settings.model_dump(), "database_url": f"{base}/{name}"})
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "sqlite":
        return settings
    result: Settings = request.getfixturevalue("postgres_settings")
    return result


def table_names(settings: Settings) -> set[str]:
    engine = build_engine(settings)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_downgrade_removes_them(any_db_settings: Settings) -> None:
    upgrade(any_db_settings)
    assert table_names(any_db_settings) == TABLES

    downgrade(any_db_settings)
    assert table_names(any_db_settings) == set()

    upgrade(any_db_settings)  # and up again: migrations are repeatable
    assert table_names(any_db_settings) == TABLES


def test_the_database_refuses_a_proxmox_endpoint_without_credentials(
    any_db_settings: Settings,
) -> None:
    # Given a migrated database
    upgrade(any_db_settings)
    engine = build_engine(any_db_settings)
    sessions = build_sessionmaker(engine)
    try:
        # When a row with neither password nor token pair is written past the API
        with sessions() as session, pytest.raises(IntegrityError):
            session.add(ProxmoxEndpoint(name="pve", ip_address="10.0.0.1", username="root@pam"))
            session.commit()
        # Then the check constraint refuses it, and a complete row is accepted
        with sessions() as session:
            session.add(
                ProxmoxEndpoint(
                    name="pve",
                    ip_address="10.0.0.1",
                    username="root@pam",
                    token_name="sync",
                    token_value_enc="enc:…",
                )  # fmt: skip
            )
            session.commit()
            stored = session.scalars(select(ProxmoxEndpoint)).one()
            assert stored.allow_writes is False
            assert stored.uses_token
    finally:
        engine.dispose()


def test_sync_runs_keep_json_counts(any_db_settings: Settings) -> None:
    upgrade(any_db_settings)
    engine = build_engine(any_db_settings)
    sessions = build_sessionmaker(engine)
    try:
        with sessions() as session:
            session.add(
                SyncRun(
                    id="run-1",
                    kind="full",
                    scope={"endpoints": [1]},
                    counts={"virtual_machine": {"created": 3}},
                )  # fmt: skip
            )
            session.commit()
        with sessions() as session:
            run = session.get(SyncRun, "run-1")
            assert run is not None
            assert run.status is RunStatus.QUEUED
            assert run.counts == {"virtual_machine": {"created": 3}}
    finally:
        engine.dispose()
