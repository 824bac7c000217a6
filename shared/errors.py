"""The one exception hierarchy of proxbox-mq.

::

    ProxboxError
    ├── ConfigurationError        a PROXBOX_* setting is wrong (raised at start)
    ├── ServiceUnavailable        Redis, RabbitMQ or the database does not answer
    │   └── EncryptionUnavailable no encryption key is configured (secrets cannot be stored)
    ├── ValidationFailed          input that cannot be accepted (gateway answers 4xx)
    │   ├── EndpointInvalid       an endpoint record is incomplete or inconsistent
    │   └── PayloadTooLarge       a request body over the configured limit (413)
    ├── NotFound                  a record that was asked for does not exist
    ├── Conflict                  the request clashes with existing state (409)
    ├── AuthError                 a missing, wrong or revoked API key (401)
    ├── TooManyRequests           a client is throttled (429 with Retry-After)
    ├── UpstreamError             Proxmox or NetBox answered with an error
    │   ├── ProxmoxError
    │   └── NetBoxError
    └── SyncError                 a sync step failed for a reason worth reporting
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigurationError",
    "Conflict",
    "EncryptionUnavailable",
    "EndpointInvalid",
    "NetBoxError",
    "NotFound",
    "PayloadTooLarge",
    "ProxboxError",
    "ProxmoxError",
    "ServiceUnavailable",
    "SyncError",
    "TooManyRequests",
    "UpstreamError",
    "ValidationFailed",
]


class ProxboxError(Exception):
    """Base of every error proxbox-mq raises on purpose."""


class ConfigurationError(ProxboxError):
    """A setting is missing or wrong; the message names the environment variable."""


class ServiceUnavailable(ProxboxError):
    """A service we depend on (Redis, RabbitMQ, the database) does not answer."""


class ValidationFailed(ProxboxError):
    """Input that cannot be accepted."""


class EndpointInvalid(ValidationFailed):
    """An endpoint record is incomplete or inconsistent (e.g. no credentials)."""


class PayloadTooLarge(ValidationFailed):
    """A request body larger than ``PROXBOX_MAX_BODY_BYTES``."""


class EncryptionUnavailable(ServiceUnavailable):
    """No encryption key is configured, so secrets cannot be stored (or read back)."""


class TooManyRequests(ProxboxError):
    """A client is throttled; ``retry_after`` says for how many seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ProxboxError):
    """A record that was asked for does not exist."""


class Conflict(ProxboxError):
    """The request clashes with existing state."""


class AuthError(ProxboxError):
    """A missing, wrong or revoked API key."""


class UpstreamError(ProxboxError):
    """An upstream API (Proxmox or NetBox) answered with an error."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProxmoxError(UpstreamError):
    """Proxmox VE answered with an error or could not be reached."""


class NetBoxError(UpstreamError):
    """NetBox answered with an error or could not be reached."""


class SyncError(ProxboxError):
    """A sync step failed for a reason worth reporting to the user."""
