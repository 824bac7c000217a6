"""Loops that every gateway replica runs beside its requests (the scheduler, the poller)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket


def replica_id() -> str:
    """Who claimed a slot (``host:pid``): shown in Redis claims, useful when one replica dies."""
    return f"{socket.gethostname()}:{os.getpid()}"


class BackgroundLoop:
    """An asyncio task started with the app's lifespan and cancelled with it."""

    name = "proxbox-background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        raise NotImplementedError
