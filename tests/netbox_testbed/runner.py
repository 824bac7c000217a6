"""Run child processes with their output streamed to stderr, and log progress."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from .settings import TestbedError


def log(message: str) -> None:
    """Progress for humans: always stderr, never stdout (stdout carries the JSON line)."""
    print(f"[netbox-testbed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _short(arg: str) -> str:
    """Arguments as logged: a multi-line script shows as its first line."""
    first = arg.strip().splitlines()[0] if arg.strip() else arg
    return first if first == arg else f"'{first} ...'"


def run(
    argv: Sequence[str | Path],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin_text: str | None = None,
    tail_lines: int = 40,
) -> None:
    """Run ``argv``, echo its output to stderr line by line, raise with the tail on failure.

    ``env`` is the child's whole environment (default: ours).
    """
    args = [str(a) for a in argv]
    full_env = dict(env) if env is not None else dict(os.environ)
    started = time.monotonic()
    log(f"{what}: {' '.join(_short(a) for a in args)}")
    tail: deque[str] = deque(maxlen=tail_lines)
    with subprocess.Popen(
        args,
        stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=str(cwd) if cwd else None,
        text=True,
        bufsize=1,
    ) as proc:
        if stdin_text is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin_text)
            proc.stdin.close()
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            print(f"    {line.rstrip()}", file=sys.stderr, flush=True)
        code = proc.wait()
    elapsed = time.monotonic() - started
    if code != 0:
        joined = "\n".join(tail)
        raise TestbedError(f"{what} failed (exit {code}) after {elapsed:.1f}s; last output:\n{joined}")
    log(f"{what}: done in {elapsed:.1f}s")
