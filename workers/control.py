"""Control actors: the round-trip probe used by health checks and tests."""

from __future__ import annotations

from typing import Any

import dramatiq

from shared.keys import Keys
from shared.messages import PING
from shared.redis_client import sync_client
from shared.settings import get_settings

settings = get_settings()
_redis = sync_client(settings)
_keys = Keys(settings.redis_prefix)

#: How long a ping answer stays readable in Redis.
PING_ANSWER_TTL_S = 300


@dramatiq.actor(**PING.actor_options(settings))
def ping(**kwargs: Any) -> None:
    """Write the payload's value under the probe key, proving a worker processed it."""
    payload = PING.parse(kwargs)
    _redis.set(_keys.probe(payload.token), payload.value, ex=PING_ANSWER_TTL_S)
