"""Readiness of what the gateway depends on: the database, Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pika
import pika.exceptions
from redis.asyncio import Redis
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from shared.settings import Settings

#: Seconds a single dependency may take to answer before it counts as down.
CHECK_TIMEOUT_S = 3.0


@dataclass
class Readiness:
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.problems


def _check_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_rabbitmq(broker_url: str) -> None:
    parameters = pika.URLParameters(broker_url)
    parameters.socket_timeout = CHECK_TIMEOUT_S
    parameters.blocked_connection_timeout = CHECK_TIMEOUT_S
    parameters.connection_attempts = 1
    connection = pika.BlockingConnection(parameters)
    connection.close()


async def _within(name: str, awaitable: object, readiness: Readiness) -> None:
    try:
        await asyncio.wait_for(awaitable, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except TimeoutError:
        readiness.problems[name] = f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:  # any failure means "down"; say what it was
        readiness.problems[name] = f"{type(exc).__name__}: {exc}" or type(exc).__name__


async def check_readiness(settings: Settings, engine: Engine, redis: Redis) -> Readiness:
    readiness = Readiness()
    await asyncio.gather(
        _within("database", run_in_threadpool(_check_database, engine), readiness),
        _within("redis", redis.ping(), readiness),
        _within("rabbitmq", run_in_threadpool(_check_rabbitmq, settings.broker_url), readiness),
    )
    return readiness
