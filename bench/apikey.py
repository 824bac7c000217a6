"""API-key check cost per request: our keyed hash (HMAC-SHA256 + pepper) vs the predecessor's bcrypt.

Run: ``.venv/bin/python -m bench.apikey [--rounds 20000]`` (bcrypt is measured only if installed:
``pip install bcrypt``). Uses a throw-away SQLite database; needs no other service.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.apikey_store import ApiKeyStore
from shared.apikeys import KeyHasher, generate_key
from shared.db.engine import build_engine, build_sessionmaker
from shared.db.migrate import upgrade
from shared.settings import load_settings


def per_call_us(function: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median, p99) microseconds per call over ``rounds`` calls, in batches of 100."""
    samples = []
    for _ in range(max(1, rounds // 100)):
        started = time.perf_counter()
        for _ in range(100):
            function()
        samples.append((time.perf_counter() - started) / 100 * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1 if len(samples) > 1 else 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=50, help="active keys in the table")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp())
    settings = load_settings(database_url=f"sqlite:///{workdir / 'bench.sqlite3'}",
                             api_key_pepper_file=workdir / "pepper")  # fmt: skip
    upgrade(settings)
    engine = build_engine(settings)
    hasher = KeyHasher.from_settings(settings)
    cold = ApiKeyStore(build_sessionmaker(engine), hasher, cache_ttl_s=0)
    warm = ApiKeyStore(build_sessionmaker(engine), hasher, cache_ttl_s=60)
    raw_keys = [cold.create(f"k{n}")[1] for n in range(args.keys)]
    key = raw_keys[-1]
    wrong = generate_key()
    assert warm.verify_hash(warm.hash(key))

    rows = [
        ("HMAC-SHA256 of the key (the hash alone)", lambda: hasher.hash(key)),
        ("good key, in-process cache hit (hash + dict)", lambda: warm.recently_accepted(warm.hash(key))),
        ("good key, cache miss: hash + SQLite unique-index lookup", lambda: cold.verify_hash(cold.hash(key))),
        ("wrong key: hash + SQLite lookup", lambda: cold.verify_hash(cold.hash(wrong))),
    ]
    print(f"{'check':60} {'median us':>10} {'p99 us':>10}")
    for name, function in rows:
        median, p99 = per_call_us(function, args.rounds)
        print(f"{name:60} {median:10.1f} {p99:10.1f}")
    try:
        import bcrypt
    except ImportError:
        print("bcrypt not installed: predecessor cost not measured (pip install bcrypt)")
    else:
        hashed = bcrypt.hashpw(key.encode(), bcrypt.gensalt(rounds=12))
        times = []
        for _ in range(5):
            started = time.perf_counter()
            bcrypt.checkpw(key.encode(), hashed)
            times.append((time.perf_counter() - started) * 1e6)
        median = statistics.median(times)
        print(f"{'predecessor: one bcrypt.checkpw, cost 12':60} {median:10.1f} {max(times):10.1f}")
        print(f"(predecessor: a wrong key costs {args.keys} x that = {median * args.keys / 1e6:.1f} s "
              f"with {args.keys} active keys; it checks every key)")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
