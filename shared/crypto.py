"""Secrets at rest: endpoint tokens and passwords, encrypted with Fernet (MultiFernet rotation).

Ciphertext format stored in the ``*_enc`` columns::

    f1:<key id>:<Fernet token>

The key id (first 8 hex digits of SHA-256 of the key) says which key protects a
row without decrypting it, so ``/admin/encryption`` can count rows per key and a
decryption failure can name the missing key. It reveals nothing about the key.

Keys come from settings: ``PROXBOX_ENCRYPTION_KEY`` (the active key),
``PROXBOX_ENCRYPTION_PREVIOUS_KEYS`` (comma-separated, still readable) and/or
``PROXBOX_ENCRYPTION_KEY_FILE`` (first line active, further lines previous).
Workers decrypt with the same object::

    box = SecretBox.from_settings(settings)
    token = box.decrypt(row.token_enc)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.errors import ConfigurationError, EncryptionUnavailable
from shared.settings import Settings

FORMAT_TAG = "f1"

HOW_TO_SET_A_KEY = (
    "set PROXBOX_ENCRYPTION_KEY (or PROXBOX_ENCRYPTION_KEY_FILE) to a Fernet key; generate one with: "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def key_id(key: bytes) -> str:
    """A short, non-secret name for a key."""
    return hashlib.sha256(key).hexdigest()[:8]


def _parse_key(raw: str, source: str) -> bytes:
    key = raw.strip().encode()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{source}: not a Fernet key (urlsafe base64 of 32 bytes); {HOW_TO_SET_A_KEY}"
        ) from None
    return key


def _read_key_file(path: Path) -> list[bytes]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigurationError(f"PROXBOX_ENCRYPTION_KEY_FILE: cannot read {path}: {exc}") from None
    return [
        _parse_key(line, f"PROXBOX_ENCRYPTION_KEY_FILE line {number}")
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


@dataclass(frozen=True)
class KeyRing:
    """The active key first, then the keys that may only decrypt."""

    keys: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        ordered: list[bytes] = []
        if settings.encryption_key is not None and settings.encryption_key.get_secret_value():
            ordered.append(
                _parse_key(settings.encryption_key.get_secret_value(), "PROXBOX_ENCRYPTION_KEY")
            )
        if settings.encryption_key_file is not None:
            ordered.extend(_read_key_file(settings.encryption_key_file))
        if settings.encryption_previous_keys is not None:
            for number, raw in enumerate(
                settings.encryption_previous_keys.get_secret_value().split(","), start=1
            ):
                if raw.strip():
                    ordered.append(
                        _parse_key(raw, f"PROXBOX_ENCRYPTION_PREVIOUS_KEYS item {number}")
                    )
        unique: dict[bytes, None] = dict.fromkeys(ordered)  # keep order, drop repeats
        return cls(tuple(unique))


class SecretBox:
    """Encrypts under the active key; decrypts under any configured key."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        self._keys = tuple(keys)
        self._by_id = {key_id(key): Fernet(key) for key in self._keys}
        self._any = MultiFernet([Fernet(key) for key in self._keys]) if self._keys else None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(KeyRing.from_settings(settings).keys)

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    @property
    def active_key_id(self) -> str | None:
        return key_id(self._keys[0]) if self._keys else None

    @property
    def key_ids(self) -> list[str]:
        return [key_id(key) for key in self._keys]

    def encrypt(self, plaintext: str) -> str:
        if not self._keys:
            raise EncryptionUnavailable(
                f"refusing to store a secret without an encryption key: {HOW_TO_SET_A_KEY}"
            )
        token = Fernet(self._keys[0]).encrypt(plaintext.encode()).decode()
        return f"{FORMAT_TAG}:{key_id(self._keys[0])}:{token}"

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value; raises ``EncryptionUnavailable`` naming the key."""
        if self._any is None:
            raise EncryptionUnavailable(f"cannot read a stored secret: {HOW_TO_SET_A_KEY}")
        wanted, token = self._split(stored)
        fernet = self._by_id.get(wanted) if wanted else None
        try:
            data = fernet.decrypt(token) if fernet is not None else self._any.decrypt(token)
        except InvalidToken:
            raise EncryptionUnavailable(
                f"a stored secret was encrypted under key {wanted or '?'}, which is not "
                "configured; add that key to PROXBOX_ENCRYPTION_PREVIOUS_KEYS"
            ) from None
        return data.decode()

    def decrypt_optional(self, stored: str | None) -> str | None:
        return None if stored is None else self.decrypt(stored)

    def key_id_of(self, stored: str) -> str:
        """Which key protects ``stored`` (without decrypting it); "?" when unknown."""
        wanted, _ = self._split(stored)
        return wanted or "?"

    def reencrypt(self, stored: str) -> str:
        """``stored`` under the active key (unchanged text if it already is)."""
        if self.key_id_of(stored) == self.active_key_id:
            return stored
        return self.encrypt(self.decrypt(stored))

    @staticmethod
    def _split(stored: str) -> tuple[str, bytes]:
        parts = stored.split(":", 2)
        if len(parts) == 3 and parts[0] == FORMAT_TAG:
            return parts[1], parts[2].encode()
        return "", stored.encode()  # a bare Fernet token: try every key
