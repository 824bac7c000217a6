"""Tickets, CSRF prevention tokens and API tokens, with PVE's failure texts.

Tickets look like PVE's (`PVE:<userid>:<8 hex epoch>::<base64 signature>`) and
live 2 h with 5 min skew grace; we sign with HMAC-SHA256 instead of the cluster's
RSA key, which no client can tell apart. CSRF tokens are `<8 hex>:<43 base64>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote

from .envelope import PveError
from .estate import Cluster

TICKET_LIFETIME = 7200
CLOCK_SKEW = 300
TICKET_RE = re.compile(r"^PVE:([^:]+):([0-9A-F]{8})::([A-Za-z0-9+/=]+)$")
TOKEN_RE = re.compile(r"^PVEAPIToken[= ](\S+?)!([^=\s]+)=(\S+)$")
# Paths PVE serves without authentication.
PUBLIC = {("GET", "/access/ticket"), ("POST", "/access/ticket"), ("GET", "/access/domains")}


@dataclass(frozen=True)
class Identity:
    userid: str
    tokenid: str | None
    privs: frozenset[str]
    via_ticket: bool

    @property
    def full_id(self) -> str:
        return f"{self.userid}!{self.tokenid}" if self.tokenid else self.userid

    def has(self, priv: str) -> bool:
        return priv in self.privs


def _sign(secret: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest()).decode()


def issue_ticket(secret: bytes, userid: str, now: float | None = None) -> tuple[str, str]:
    """A ticket and its CSRF prevention token."""
    stamp = f"{int(now if now is not None else time.time()):08X}"
    data = f"PVE:{userid}:{stamp}"
    ticket = f"{data}::{_sign(secret, data)}"
    csrf = f"{stamp}:{_sign(secret, 'csrf:' + stamp + ':' + userid)[:43]}"
    return ticket, csrf


def verify_ticket(secret: bytes, ticket: str, now: float | None = None) -> str | None:
    """The user of a valid, unexpired ticket, else None."""
    match = TICKET_RE.match(ticket)
    if not match:
        return None
    userid, stamp, signature = match.groups()
    if not hmac.compare_digest(_sign(secret, f"PVE:{userid}:{stamp}"), signature):
        return None
    age = (now if now is not None else time.time()) - int(stamp, 16)
    if age < -CLOCK_SKEW or age > TICKET_LIFETIME:
        return None
    return userid


def verify_csrf(secret: bytes, userid: str, token: str | None) -> bool:
    if not token or ":" not in token:
        return False
    stamp = token.split(":", 1)[0]
    expected = f"{stamp}:{_sign(secret, 'csrf:' + stamp + ':' + userid)[:43]}"
    return hmac.compare_digest(expected, token)


def _generic_failures(cluster: Cluster) -> bool:
    """pve-manager 9.1.5 replaced every specific 401 text by `Authentication failed!`."""
    return cluster.at_least(9, 1, 5)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return unquote(value)
    return None


def authenticate(cluster: Cluster, secret: bytes, method: str, headers: dict[str, str]) -> Identity:
    """Identity of a request, or PveError(401) with the text PVE would put in the status line."""
    authz = headers.get("authorization", "")
    if authz.startswith("PVEAPIToken"):
        return _token_identity(cluster, unquote(authz))
    ticket = _cookie(headers.get("cookie", ""), "PVEAuthCookie")
    if ticket is None and authz.startswith("PVEAuthCookie="):
        ticket = unquote(authz.split("=", 1)[1])
    if ticket is None:
        raise PveError(401, "No ticket")
    userid = verify_ticket(secret, ticket)
    user = cluster.users.get(userid or "")
    if userid is None or user is None:
        text = "Authentication failed!" if _generic_failures(cluster) else (
            "permission denied - invalid PVE ticket")
        raise PveError(401, text)
    if method not in ("GET", "HEAD") and not verify_csrf(
        secret, userid, headers.get("csrfpreventiontoken")
    ):
        raise PveError(401, "Permission denied - invalid csrf token")
    return Identity(userid, None, user.privs, via_ticket=True)


def _token_identity(cluster: Cluster, header: str) -> Identity:
    generic = _generic_failures(cluster)
    match = TOKEN_RE.match(header)
    if not match:
        raise PveError(401, "Authentication failed!" if generic else "invalid token value!")
    userid, tokenid, secret = match.groups()
    token = cluster.tokens.get(f"{userid}!{tokenid}")
    user = cluster.users.get(userid)
    if token is None or user is None:
        raise PveError(401, "Authentication failed!" if generic else (
            f"no such token '{tokenid}' for user '{userid}'"))
    if not hmac.compare_digest(token.secret, secret):
        raise PveError(401, "Authentication failed!" if generic else "invalid token value!")
    # privsep=1: the token's own grants, intersected with the user's.
    return Identity(userid, tokenid, token.privs & user.privs, via_ticket=False)


def login(cluster: Cluster, secret: bytes, username: str, password: str,
          realm: str | None = None) -> Identity:
    """`POST /access/ticket`: a password, or a still-valid ticket to renew it."""
    if realm and "@" not in username:
        username = f"{username}@{realm}"
    user = cluster.users.get(username)
    if user is not None:
        if hmac.compare_digest(user.password, password):
            return Identity(username, None, user.privs, via_ticket=True)
        if verify_ticket(secret, password) == username:
            return Identity(username, None, user.privs, via_ticket=True)
    # Unlike other 401s this one comes from a handler, so it carries a JSON body.
    raise PveError(401, "authentication failure", empty_body=False)
