"""API keys in the database: verify, bootstrap the first one, create, list, revoke.

Methods are synchronous (SQLAlchemy); the gateway calls them in a thread. ``verify``
keeps a short in-process memory of keys it has accepted so a busy client costs one
HMAC per request, not a database round trip; revocation in this process forgets
at once, other processes within ``PROXBOX_API_KEY_CACHE_TTL_S``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.apikeys import KeyHasher, generate_key
from shared.db.models import ApiKey, BootstrapClaim
from shared.errors import Conflict, NotFound


class ApiKeyStore:
    def __init__(
        self, sessions: sessionmaker[Session], hasher: KeyHasher, cache_ttl_s: float
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._cache_ttl_s = cache_ttl_s
        self._accepted: dict[str, float] = {}  # key hash -> monotonic expiry
        self._lock = threading.Lock()

    # --- per request ---------------------------------------------------------------------
    def hash(self, key: str) -> str:
        return self._hasher.hash(key)

    def recently_accepted(self, key_hash: str) -> bool:
        expiry = self._accepted.get(key_hash)
        return expiry is not None and expiry > time.monotonic()

    def verify_hash(self, key_hash: str) -> bool:
        """True when an active key has this hash (a unique-index lookup)."""
        with self._sessions() as session:
            found = session.scalar(
                select(ApiKey.id).where(ApiKey.key_hash == key_hash, ApiKey.is_active.is_(True))
            )
        if found is None:
            return False
        if self._cache_ttl_s > 0:
            with self._lock:
                self._accepted[key_hash] = time.monotonic() + self._cache_ttl_s
        return True

    def forget(self) -> None:
        with self._lock:
            self._accepted.clear()

    # --- bootstrap and management ----------------------------------------------------------
    def bootstrap_status(self) -> tuple[bool, bool]:
        """``(needs_bootstrap, has_db_keys)``."""
        with self._sessions() as session:
            claimed = session.get(BootstrapClaim, 1) is not None
            active = session.scalar(
                select(func.count()).select_from(ApiKey).where(ApiKey.is_active.is_(True))
            )
        has_keys = bool(active)
        return (not claimed and not has_keys), has_keys

    def register_first(self, raw_key: str, label: str) -> ApiKey:
        """The very first key ever; ``Conflict`` once any key was registered before.

        The claim row (primary key 1) is inserted in the same transaction as the
        key, so of two racing registrations exactly one commits.
        """
        key_hash = self.hash(raw_key)
        row = ApiKey(label=label, lookup=self._hasher.lookup(key_hash), key_hash=key_hash)
        try:
            with self._sessions.begin() as session:
                if session.get(BootstrapClaim, 1) is not None:
                    raise Conflict("bootstrap is closed: an API key was registered before")
                session.add(BootstrapClaim(id=1))
                session.add(row)
        except IntegrityError:
            raise Conflict("bootstrap is closed: an API key was registered before") from None
        return row

    def create(self, label: str) -> tuple[ApiKey, str]:
        raw_key = generate_key()
        key_hash = self.hash(raw_key)
        row = ApiKey(label=label, lookup=self._hasher.lookup(key_hash), key_hash=key_hash)
        with self._sessions.begin() as session:
            if session.get(BootstrapClaim, 1) is None:
                session.add(BootstrapClaim(id=1))  # keys exist now: bootstrap never reopens
            session.add(row)
        return row, raw_key

    def list(self) -> list[ApiKey]:
        with self._sessions() as session:
            return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def revoke(self, key_id: int) -> ApiKey:
        """Deactivate a key; ``Conflict`` for the last active one (nobody could log in again)."""
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Row locks serialise two concurrent revocations of the last two keys.
                session.execute(select(ApiKey.id).where(ApiKey.is_active.is_(True)).with_for_update())
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"API key {key_id} does not exist")
            if row.is_active:
                # Write first: on SQLite this takes the write lock before we count.
                session.execute(
                    update(ApiKey)
                    .where(ApiKey.id == key_id)
                    .values(is_active=False, revoked_at=datetime.now(UTC))
                )
                remaining = session.scalar(
                    select(func.count()).select_from(ApiKey).where(ApiKey.is_active.is_(True))
                )
                if not remaining:  # raising rolls the update back
                    raise Conflict("refusing to revoke the last active API key; create another first")
            session.refresh(row)
        self.forget()
        return row
