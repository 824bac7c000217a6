"""Install NetBox (PyPI package ``netbox``) and gunicorn into the test bed's own virtualenv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from .python_finder import find_python
from .runner import log, run
from .settings import GUNICORN_REQUIREMENT, NETBOX_REQUIREMENT, TestbedError, TestbedSettings

MARKER = "installed.json"


def installed_version(settings: TestbedSettings) -> str | None:
    """The NetBox version recorded by a finished install, or None when there is none."""
    marker = settings.venv / MARKER
    if not marker.is_file() or not (settings.bin / "netbox").exists():
        return None
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    version = data.get("netbox")
    return version if isinstance(version, str) else None


def _netbox_version(settings: TestbedSettings) -> str:
    return subprocess.run(
        [str(settings.bin / "python"), "-c", "import importlib.metadata as m; print(m.version('netbox'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def psycopg_flavour() -> str:
    """``c`` (NetBox's own pin, needs pg_config) or ``binary`` (wheels, no compiler needed).

    PROXBOX_NETBOX_PSYCOPG=c|binary forces one; the default picks ``c`` when pg_config exists.
    """
    wanted = os.environ.get("PROXBOX_NETBOX_PSYCOPG", "").strip().lower() or "auto"
    if wanted not in ("auto", "c", "binary"):
        raise TestbedError(f"PROXBOX_NETBOX_PSYCOPG={wanted!r}: expected auto, c or binary")
    if wanted == "auto":
        return "c" if shutil.which("pg_config") else "binary"
    return wanted


# Prints NetBox's requirements with psycopg's C extra swapped for the binary wheels.
_SWAP_PSYCOPG = """
import importlib.metadata as m, re
for req in m.requires("netbox") or []:
    if "extra ==" in req:
        continue
    if re.match(r"psycopg\\[", req):
        req = re.sub(r"\\bc\\b", "binary", req, count=1)
    print(req)
"""


def _install_with_binary_psycopg(settings: TestbedSettings, pip: list[str | Path]) -> None:
    log("pg_config missing (or PROXBOX_NETBOX_PSYCOPG=binary): installing psycopg[binary]")
    run([*pip, "--no-deps", NETBOX_REQUIREMENT], what="pip install netbox (no deps)")
    requirements = subprocess.run(
        [str(settings.bin / "python"), "-c", _SWAP_PSYCOPG],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    wanted = [line.strip() for line in requirements if line.strip()]
    run([*pip, *wanted, GUNICORN_REQUIREMENT], what="pip install NetBox's requirements")


def ensure_installed(settings: TestbedSettings) -> str:
    """Reuse the cached virtualenv when its marker is present, else (re)build it. Returns version."""
    version = installed_version(settings)
    if version is not None:
        log(f"NetBox {version} already installed in {settings.venv}")
        return version
    python = find_python(settings.python)
    log(f"installing NetBox into {settings.venv} with {python} (takes 1-3 minutes)")
    if settings.venv.exists():
        shutil.rmtree(settings.venv)
    settings.home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    run([python, "-m", "venv", settings.venv], what="create virtualenv")
    pip: list[str | Path] = [
        settings.bin / "python", "-m", "pip", "install", "--disable-pip-version-check"
    ]
    flavour = psycopg_flavour()
    if flavour == "c":
        try:
            run([*pip, NETBOX_REQUIREMENT, GUNICORN_REQUIREMENT], what="pip install netbox")
        except TestbedError as exc:
            raise TestbedError(
                f"{exc}\nHint: NetBox pins psycopg[c], built from source with gcc and libpq-dev "
                "(pg_config); or set PROXBOX_NETBOX_PSYCOPG=binary to use psycopg's wheels."
            ) from exc
    else:
        _install_with_binary_psycopg(settings, pip)
    version = _netbox_version(settings)
    (settings.venv / MARKER).write_text(
        json.dumps(
            {"netbox": version, "python": python, "psycopg": flavour,
             "requirement": NETBOX_REQUIREMENT}
        ) + "\n"
    )
    log(f"NetBox {version} installed in {time.monotonic() - started:.1f}s")
    return version
