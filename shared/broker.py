"""The Dramatiq broker, built from settings in one place for both sides.

The gateway only publishes; the workers consume. Both build the broker here so
that the middleware stack (and therefore the message options both sides agree
on) is the same.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from shared.settings import Settings

#: Retry back-off floor (ms). Dramatiq 2.x starts at min_backoff, not half of it.
MIN_BACKOFF_MS = 1_000


def build_middleware(settings: Settings) -> list[Middleware]:
    """Dramatiq's defaults, with limits that stay under RabbitMQ's consumer_timeout.

    Delayed and retried messages sit unacked in worker memory until due, and
    RabbitMQ closes a channel holding a delivery for 30 minutes: so the retry
    back-off is capped at minutes (not dramatiq's 7 days) and the time limit
    stays under half an hour (enforced by :class:`Settings`).
    """
    return [
        AgeLimit(),
        TimeLimit(time_limit=settings.actor_time_limit_ms),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(
            max_retries=settings.actor_max_retries,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=settings.actor_max_backoff_ms,
        ),
        CurrentMessage(),
    ]


def build_broker(settings: Settings, *, confirm_delivery: bool = False) -> RabbitmqBroker:
    """A RabbitMQ broker for ``PROXBOX_BROKER_URL``; it connects lazily on first use.

    ``confirm_delivery=True`` makes every publish wait for RabbitMQ's ack: the
    gateway uses it for the commands users send (a 202 must mean "queued"); the
    workers' internal fan-out does not need it.
    """
    return RabbitmqBroker(
        url=settings.broker_url,
        confirm_delivery=confirm_delivery,
        middleware=build_middleware(settings),
    )


def install_broker(settings: Settings, *, confirm_delivery: bool = False) -> RabbitmqBroker:
    """Build the broker and make it Dramatiq's global one (actors declare on it)."""
    broker = build_broker(settings, confirm_delivery=confirm_delivery)
    dramatiq.set_broker(broker)
    return broker
