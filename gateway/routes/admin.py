"""``/admin/encryption``: which key protects what; rotation of every secret to the active key.

Rotation (MultiFernet style): put the new key in ``PROXBOX_ENCRYPTION_KEY`` and
the old one in ``PROXBOX_ENCRYPTION_PREVIOUS_KEYS``, restart, then ``POST
/admin/encryption/rotate``. It re-encrypts every stored secret in one database
transaction: if any secret cannot be read, nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.schemas import EncryptionStatusOut, RotationOut
from shared.crypto import HOW_TO_SET_A_KEY, SecretBox
from shared.db.models import NetBoxEndpoint, ProxmoxEndpoint
from shared.errors import EncryptionUnavailable
from shared.settings import Settings

#: Every (model, ciphertext column) pair holding a secret.
SECRET_COLUMNS: tuple[tuple[type[NetBoxEndpoint] | type[ProxmoxEndpoint], str], ...] = (
    (NetBoxEndpoint, "token_enc"),
    (NetBoxEndpoint, "token_key_enc"),
    (ProxmoxEndpoint, "password_enc"),
    (ProxmoxEndpoint, "token_value_enc"),
    (ProxmoxEndpoint, "hook_secret_enc"),
)


def _stored_secrets(session: Session) -> Iterator[tuple[object, str, str]]:
    """(row, column, ciphertext) for every secret in the database."""
    for model in (NetBoxEndpoint, ProxmoxEndpoint):
        columns = [column for owner, column in SECRET_COLUMNS if owner is model]
        for row in session.scalars(select(model)):
            for column in columns:
                value = getattr(row, column)
                if value:
                    yield row, column, value


def _key_source(settings: Settings) -> str | None:
    env = settings.encryption_key is not None or settings.encryption_previous_keys is not None
    file = settings.encryption_key_file is not None
    return {(True, True): "env+file", (True, False): "env", (False, True): "file"}.get((env, file))


def _status(sessions: sessionmaker[Session], box: SecretBox, settings: Settings) -> EncryptionStatusOut:
    with sessions() as session:
        counts = Counter(box.key_id_of(value) for _, _, value in _stored_secrets(session))
    return EncryptionStatusOut(
        configured=box.configured,
        active_key_id=box.active_key_id,
        key_ids=box.key_ids,
        rows_by_key=dict(counts),
        source=_key_source(settings),
    )


def rotate_all(sessions: sessionmaker[Session], box: SecretBox) -> RotationOut:
    """Re-encrypt every secret under the active key, all or nothing."""
    if box.active_key_id is None:
        raise EncryptionUnavailable(f"no encryption key to rotate to: {HOW_TO_SET_A_KEY}")
    changed = unchanged = 0
    with sessions.begin() as session:  # any exception rolls every row back
        for row, column, value in list(_stored_secrets(session)):
            fresh = box.reencrypt(value)
            if fresh == value:
                unchanged += 1
            else:
                setattr(row, column, fresh)
                changed += 1
    return RotationOut(active_key_id=box.active_key_id, reencrypted=changed, unchanged=unchanged)


async def encryption_status(request: Request) -> Response:
    state = request.app.state
    result = await run_in_threadpool(_status, state.sessions, state.secrets, state.settings)
    return JSONResponse(result.model_dump())


async def rotate(request: Request) -> Response:
    state = request.app.state
    result = await run_in_threadpool(rotate_all, state.sessions, state.secrets)
    return JSONResponse(result.model_dump())


routes: list[BaseRoute] = [
    Route("/admin/encryption", encryption_status, methods=["GET"]),
    # The plugin's gate before its own key rotation asks this path.
    Route("/admin/encryption/status", encryption_status, methods=["GET"]),
    Route("/admin/encryption/rotate", rotate, methods=["POST"]),
]
