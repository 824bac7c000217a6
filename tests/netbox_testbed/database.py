"""PostgreSQL side of the test bed: the role, the migrated template and the working database.

Only objects named with the configured prefix (default ``proxbox_nb``) are ever touched:
role ``proxbox_nb``, template ``proxbox_nb_template`` and working database ``proxbox_nb``.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from .settings import TestbedError, TestbedSettings

# Stored as the template's COMMENT once it is fully built (migrated, superuser, tokens).
READY_COMMENT_PREFIX = "proxbox-mq netbox testbed template ready"


def ready_comment(netbox_version: str, fingerprint: str) -> str:
    return f"{READY_COMMENT_PREFIX}; netbox={netbox_version}; {fingerprint}"


def admin_connect(settings: TestbedSettings) -> psycopg.Connection[tuple[object, ...]]:
    """Autocommit connection to the ``postgres`` database as the admin user."""
    try:
        return psycopg.connect(
            host=settings.pg_host,
            port=settings.pg_port,
            user=settings.pg_admin_user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )
    except psycopg.OperationalError as exc:
        raise TestbedError(
            f"cannot connect to PostgreSQL at {settings.pg_host}:{settings.pg_port} as "
            f"{settings.pg_admin_user!r} (set PROXBOX_NETBOX_PG_HOST/_PORT/_ADMIN_USER): {exc}"
        ) from exc


def ensure_role(settings: TestbedSettings) -> None:
    with admin_connect(settings) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.role,)
        ).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(settings.role), sql.Literal(settings.role_password)
            )
        )


def database_comment(settings: TestbedSettings, name: str) -> str | None:
    """The database's COMMENT, or None if it has none or does not exist."""
    with admin_connect(settings) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row is None or row[0] is None:
        return None
    return str(row[0])


def database_exists(settings: TestbedSettings, name: str) -> bool:
    with admin_connect(settings) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def drop_database(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    """Drop ``name``; FORCE ends its open sessions (gunicorn workers reconnect per request)."""
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_empty(settings: TestbedSettings, name: str) -> None:
    with admin_connect(settings) as conn:
        drop_database(conn, name)
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name), sql.Identifier(settings.role)
            )
        )


def seal_template(settings: TestbedSettings, comment: str) -> None:
    """Mark the finished template; refuse connections so it can always be cloned."""
    ident = sql.Identifier(settings.template_db)
    with admin_connect(settings) as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(comment)))
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(ident))
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))


def drop_template(settings: TestbedSettings) -> None:
    ident = sql.Identifier(settings.template_db)
    with admin_connect(settings) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.template_db,)
        ).fetchone()
        if row is not None:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(ident))
        drop_database(conn, settings.template_db)


def clone_working(settings: TestbedSettings) -> float:
    """Make the working database a fresh copy of the template; returns seconds taken."""
    started = time.monotonic()
    with admin_connect(settings) as conn:
        drop_database(conn, settings.working_db)
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                sql.Identifier(settings.working_db),
                sql.Identifier(settings.template_db),
                sql.Identifier(settings.role),
            )
        )
    return time.monotonic() - started
