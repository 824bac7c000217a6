"""`/cluster/resources` built incrementally, for big estates (10k guests).

* Each guest's row is kept serialised, with the guest revision, node state and HA state
  it was rendered from. An unchanged guest reuses its bytes; at a new stats interval a
  running guest only gets `refresh_stats`; any other change re-renders its row.
* The gzip copy is one gzip member built from raw-deflate segments, one per block of
  `BLOCK` vmids, each ended by a sync flush (byte aligned, self-contained). A block
  whose bytes did not change reuses its compressed segment.

The answer is the same JSON as `render_cluster.resources` would give at `now`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from operator import is_
from typing import Any

from .envelope import dumps
from .estate import Cluster, Guest
from .render_cluster import infra_rows, pool_rows, running_mib, sorted_guests
from .render_guests import live_stats, refresh_stats, resource_row

BLOCK = 64  # vmids per compressed segment (~22 KB of JSON)
LEVEL = 1  # as gzip.compress(..., compresslevel=1) did
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"  # deflate, no mtime, fastest, OS unknown
PREFIX, SUFFIX = b'{"data":[', b"]}"


def _deflate(data: bytes, last: bool = False) -> bytes:
    z = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


@dataclass(slots=True)
class _Row:
    revision: int  # Guest.revision it was rendered from
    node: tuple[bool, bool] | None  # (online, rrd_expired) of its node
    ha: str | None  # ha.state, which can change without a new revision
    totals: tuple[Any, ...]  # what the pool rows and node memory take from this guest
    now: float  # the stats time
    stats: dict[str, Any]  # live_stats(guest, now), for the pool rows
    row: dict[str, Any]
    data: bytes


@dataclass
class ResourcesBody:
    """One serialised answer: the plain bytes, and the pieces its gzip copy is made of."""

    plain: bytes
    segments: list[tuple[int | None, bytes]]  # (block or None, bytes), between PREFIX/SUFFIX
    gz: bytes | None = None


def _totals_key(g: Guest) -> tuple[Any, ...]:
    return (g.pool, g.status, g.node, g.memory_mib, g.cores, g.started_at)


@dataclass
class ResourcesCache:
    _rows: dict[int, _Row] = field(default_factory=dict)
    _blocks: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # plain, deflated
    _version: str = ""
    # (pool ids, pool rows, running MiB per node); None once a guest's `totals` moved
    _totals: tuple[tuple[str, ...], list[bytes], dict[str, int]] | None = None
    _guests: list[Guest] = field(default_factory=list)  # cluster.guests.values() last time
    _sorted: list[Guest] = field(default_factory=list)  # the same, by vmid

    def _sorted_guests(self, cluster: Cluster) -> list[Guest]:
        """`sorted_guests`, re-sorted only when the guest objects changed (a vmid never does)."""
        guests = list(cluster.guests.values())
        if len(guests) != len(self._guests) or not all(map(is_, guests, self._guests)):
            self._guests, self._sorted = guests, sorted_guests(cluster, True)
        return self._sorted

    def _guest_rows(self, cluster: Cluster, guests: list[Guest],
                    now: float) -> list[tuple[int | None, list[bytes]]]:
        """The guests' serialised rows, in blocks of `BLOCK` vmids."""
        if cluster.version != self._version:  # memhost etc. depend on the version
            self._rows, self._version = {}, cluster.version
        nodes = {n.name: (n.online, n.rrd_expired) for n in cluster.nodes.values()}
        old, new = self._rows, {}
        moved = len(guests) != len(old)
        blocks: list[tuple[int | None, list[bytes]]] = []
        last = -1
        current: list[bytes] = []
        for g in guests:
            vmid, entry = g.vmid, old.get(g.vmid)
            node, ha = nodes.get(g.node), g.ha.state if g.ha is not None else None
            if entry is None or entry.revision != g.revision or entry.node != node or entry.ha != ha:
                totals = _totals_key(g)
                moved = moved or entry is None or entry.totals != totals
                row = resource_row(cluster, g, now)
                entry = _Row(g.revision, node, ha, totals, now, live_stats(g, now), row, dumps(row))
            elif entry.now != now:
                if g.status == "running":  # a new stats interval: only the stats move
                    stats, moved = live_stats(g, now), True
                    row = refresh_stats(entry.row, stats)
                    entry = _Row(g.revision, node, ha, entry.totals, now, stats, row, dumps(row))
                else:  # a stopped guest's stats do not depend on the time
                    entry.now = now
            new[vmid] = entry
            if vmid // BLOCK != last:
                last, current = vmid // BLOCK, []
                blocks.append((last, current))
            current.append(entry.data)
        self._rows = new
        if moved:
            self._totals = None
        return blocks

    def _pools_and_memory(self, cluster: Cluster, guests: list[Guest]) -> tuple[list[bytes], dict[str, int]]:
        """Pool rows and running MiB per node, for a caller that sees all guests."""
        pools = tuple(cluster.pools)
        if self._totals is None or self._totals[0] != pools:
            running = [(g, self._rows[g.vmid].stats) for g in guests if g.status == "running"]
            self._totals = (pools, [dumps(r) for r in pool_rows(cluster, running)],
                            running_mib(g for g, _ in running))
        return self._totals[1], self._totals[2]

    def build(self, cluster: Cluster, kind: str | None, see_guests: bool,
              now: float) -> ResourcesBody:
        guests = self._sorted_guests(cluster) if see_guests else []
        blocks = self._guest_rows(cluster, guests, now) if see_guests and kind in (None, "vm") else []
        groups: list[tuple[int | None, list[bytes]]] = []
        used = None  # infra_rows counts it
        if kind is None and see_guests:
            pools, used = self._pools_and_memory(cluster, guests)
            groups.append((None, pools))
        elif kind is None:
            groups.append((None, [dumps(r) for r in pool_rows(cluster, [])]))
        groups += blocks
        groups.append((None, [dumps(r) for r in infra_rows(cluster, kind, used)]))
        segments: list[tuple[int | None, bytes]] = []
        first = True
        for block, rows in groups:
            if rows:
                segments.append((block, (b"" if first else b",") + b",".join(rows)))
                first = False
        plain = b"".join([PREFIX, *(data for _, data in segments), SUFFIX])
        return ResourcesBody(plain, segments)

    def gzip(self, body: ResourcesBody) -> bytes:
        """The gzip copy of `body`, from cached segments where the block is unchanged."""
        if body.gz is not None:
            return body.gz
        parts = [GZIP_HEADER, _deflate(PREFIX)]
        for block, data in body.segments:
            if block is None:
                parts.append(_deflate(data))
                continue
            cached = self._blocks.get(block)
            if cached is None or cached[0] != data:
                cached = self._blocks[block] = (data, _deflate(data))
            parts.append(cached[1])
        parts.append(_deflate(SUFFIX, last=True))
        parts.append(struct.pack("<II", zlib.crc32(body.plain), len(body.plain) & 0xFFFFFFFF))
        body.gz, body.segments = b"".join(parts), []  # the segments are not needed any more
        return body.gz
