"""API keys: generated high-entropy, stored only as a keyed hash (HMAC-SHA256 with a pepper).

A password hash (bcrypt) is the wrong tool here: it exists to slow down guessing
of low-entropy human passwords, and the predecessor paid ~280 ms of CPU for it on
every request. Our keys carry >= 192 bits of entropy, so a keyed hash is enough:
one HMAC is a few microseconds, and the database lookup is by the hash itself
(a unique index), so verification does not grow with the number of keys. The
pepper (a server secret kept outside the database) means a leaked database alone
does not let anyone test key guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from shared.errors import ConfigurationError
from shared.settings import Settings, default_data_dir

#: Prefix of generated keys: recognisable in logs and secret scanners.
GENERATED_PREFIX = "pbx_"
#: Shortest key the gateway accepts from a client registering its own (the plugin sends 64).
MIN_KEY_LENGTH = 32
MAX_KEY_LENGTH = 256
PEPPER_BYTES = 32


def generate_key() -> str:
    return GENERATED_PREFIX + secrets.token_urlsafe(36)


def pepper_path(settings: Settings) -> Path:
    return settings.api_key_pepper_file or default_data_dir() / "api_key_pepper"


def load_pepper(settings: Settings) -> bytes:
    """The pepper from ``PROXBOX_API_KEY_PEPPER``, or from its file (created 0600 on first use)."""
    if settings.api_key_pepper is not None and settings.api_key_pepper.get_secret_value():
        return settings.api_key_pepper.get_secret_value().encode()
    path = pepper_path(settings)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigurationError(f"PROXBOX_API_KEY_PEPPER_FILE: cannot read {path}: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(PEPPER_BYTES).encode()
    try:
        # O_EXCL: when two processes start at once, one creates and the other reads its file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(fresh + b"\n")
    return fresh


class KeyHasher:
    """Keyed hash of API keys; ``lookup`` is a short public prefix of the hash (display only)."""

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 16:
            raise ConfigurationError("PROXBOX_API_KEY_PEPPER: must be at least 16 characters")
        self._pepper = pepper

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyHasher:
        return cls(load_pepper(settings))

    def hash(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def lookup(key_hash: str) -> str:
        return key_hash[:12]
