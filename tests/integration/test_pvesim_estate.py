"""Estate generation: determinism, the awkward variety, estate files, scale and the CLI."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.pvesim.render_config import guest_config
from tests.pvesim.spec import estate_from_counts, estate_from_spec

GUEST_NET = ipaddress.ip_network("198.18.0.0/15")
ROOT = Path(__file__).resolve().parents[2]


def _configs(seed: int) -> list[dict[str, object]]:
    cluster = estate_from_counts(1, 3, 60, seed=seed).clusters[0]
    return [guest_config(cluster, g) for g in cluster.guests.values()]


def test_same_seed_same_estate_other_seed_other_estate() -> None:
    assert _configs(7) == _configs(7)
    assert _configs(7) != _configs(8)


def test_generated_estate_has_the_awkward_cases() -> None:
    cluster = estate_from_counts(1, 3, 200, seed=3).clusters[0]
    guests = list(cluster.guests.values())
    names = [g.name for g in guests]
    assert {g.kind for g in guests} == {"qemu", "lxc"}
    assert any(g.template for g in guests)
    assert any(g.status == "stopped" and not g.template for g in guests)
    assert any(g.kind == "qemu" and not g.agent for g in guests)
    assert {0, 1, 3, 24} <= {len(g.nics) for g in guests}
    assert any(n.tag for g in guests for n in g.nics)
    assert any(n.trunks for g in guests for n in g.nics)
    assert any(n.ipv4 == "dhcp" for g in guests if g.kind == "lxc" for n in g.nics)
    assert any(n.ipv6 for g in guests for n in g.nics)
    assert len(names) != len(set(names))  # duplicate names on one cluster
    assert any(len(n) > 63 for n in names)
    assert any(len(g.tags) >= 2 for g in guests)
    assert any(g.lock == "backup" for g in guests)
    slots = {d.slot for g in guests for d in g.disks}
    assert {"scsi0", "virtio0", "sata0", "ide0", "efidisk0", "tpmstate0", "rootfs", "mp0"} <= slots
    assert any(g.cdrom for g in guests) and "ide2" not in slots


def test_guest_addresses_are_in_the_benchmark_range_and_unique() -> None:
    estate = estate_from_counts(3, 3, 300, seed=1)
    addresses = [
        n.ipv4.split("/")[0] if n.ipv4 != "dhcp" else str(n.dhcp_lease).split("/")[0]
        for c in estate.clusters for g in c.guests.values() for n in g.nics
    ]
    assert all(ipaddress.ip_address(a) in GUEST_NET for a in addresses)
    assert len(addresses) == len(set(addresses))
    macs = [n.mac for c in estate.clusters for g in c.guests.values() for n in g.nics]
    assert len(macs) == len(set(macs))


def test_estate_file_describes_clusters_explicitly(pvesim, tmp_path: Path) -> None:
    spec = {"seed": 5, "clusters": [
        {"name": "prod-cl1", "version": "8.3.2", "nodes": ["alpha", "beta"], "guests": [
            {"vmid": 500, "kind": "qemu", "name": "app01", "node": "beta", "tags": ["a", "b"],
             "agent": True, "nics": [{"ip": "198.18.9.9/24", "tag": 42, "trunks": [1, 2]}]},
            {"vmid": 501, "kind": "lxc", "name": "ct01", "node": "alpha", "status": "stopped"},
        ]},
        {"name": "edge", "standalone": True, "nodes": ["edge1"], "guests": 2},
    ]}
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(spec))
    sim = pvesim(estate=path)
    prod = sim.endpoint("prod-cl1").proxmox()
    config = prod.nodes("beta").qemu(500).config.get()
    assert config["tags"] == "a;b" and "tag=42" in config["net0"] and "trunks=1;2" in config["net0"]
    assert isinstance(config["memory"], str)
    assert [r["vmid"] for r in prod.cluster.resources.get(type="vm")] == [500, 501]
    edge = sim.endpoint("edge").proxmox()
    assert edge.cluster.status.get()[0]["name"] == "edge1"
    assert estate_from_spec(spec).clusters[0].guests[500].nics[0].ipv4 == "198.18.9.9/24"


def test_large_estate_starts_fast_and_serves_resources(pvesim) -> None:
    started = time.monotonic()
    sim = pvesim(clusters=3, nodes=3, guests=1000, seed=1)
    assert time.monotonic() - started < 15  # generous bound; the benchmark reports real figures
    endpoint = sim[2]
    with httpx.Client(base_url=endpoint.url, verify=False, headers=endpoint.auth_header(),
                      timeout=30) as client:
        rows = client.get("/cluster/resources", params={"type": "vm"}).json()["data"]
    assert len(rows) == 1000


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def test_cli_prints_one_json_line_per_endpoint_and_serves() -> None:
    port = _free_port_pair()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.pvesim", "--port", str(port), "--clusters", "2",
         "--nodes", "2", "--guests", "5", "--seed", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert [line["port"] for line in lines] == [port, port + 1]
        assert set(lines[0]) == {"name", "host", "port", "user", "password", "token_id",
                                 "token_secret"}
        assert lines[0]["token_id"] == "root@pam!sync"
        auth = {"Authorization": f"PVEAPIToken={lines[1]['token_id']}={lines[1]['token_secret']}"}
        resp = httpx.get(f"https://127.0.0.1:{port + 1}/api2/json/cluster/resources",
                         params={"type": "vm"}, headers=auth, verify=False)
        assert len(resp.json()["data"]) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
