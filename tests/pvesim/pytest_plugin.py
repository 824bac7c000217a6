"""pytest fixtures for the Proxmox VE simulator.

Register with `pytest_plugins = ["tests.pvesim.pytest_plugin"]` (or `-p`).

* `pvesim` - factory: `pvesim(clusters=1, nodes=3, guests=20, seed=0, version="9.1.4",
  standalone=0, estate=None, task_duration=0.05)` starts the endpoints on free
  loopback ports and returns a `Simulator` (`sim[0]`, `sim.endpoints`,
  `sim.endpoint("cl1")`); everything it started is stopped after the test.
* `pve` - one default cluster (3 nodes, 20 guests), i.e. `pvesim()[0]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .estate import Estate
from .handle import SimEndpoint
from .runtime import Settings
from .server import Simulator
from .spec import DEFAULT_VERSION, estate_from_counts, estate_from_spec, load_estate_file

# requests/urllib3 warn on every unverified HTTPS call; the simulator's certificate
# is self-signed by design, so only warnings about loopback hosts are silenced.
LOOPBACK_TLS_WARNING = (
    "ignore:Unverified HTTPS request is being made to host '127.0.0.1'"
    ":urllib3.exceptions.InsecureRequestWarning"
)

SimFactory = Callable[..., Simulator]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", LOOPBACK_TLS_WARNING)


@pytest.fixture
def pvesim() -> Iterator[SimFactory]:
    started: list[Simulator] = []

    def start(clusters: int = 1, nodes: int = 3, guests: int = 20, seed: int = 0,
              version: str = DEFAULT_VERSION, standalone: int = 0,
              estate: Estate | dict[str, Any] | str | Path | None = None,
              task_duration: float = 0.05, auth_failure_delay: float = 0.0) -> Simulator:
        if estate is None:
            model = estate_from_counts(clusters, nodes, guests, seed, version, standalone)
        elif isinstance(estate, Estate):
            model = estate
        elif isinstance(estate, dict):
            model = estate_from_spec(estate)
        else:
            model = load_estate_file(estate)
        settings = Settings(task_duration=task_duration, auth_failure_delay=auth_failure_delay)
        sim = Simulator(model, settings=settings).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def pve(pvesim: SimFactory) -> SimEndpoint:
    return pvesim()[0]
