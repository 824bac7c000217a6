"""Install NetBox (PyPI package ``netbox``) and gunicorn into the test bed's own virtualenv."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

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
    pip = [settings.bin / "python", "-m", "pip", "install", "--disable-pip-version-check"]
    try:
        run([*pip, NETBOX_REQUIREMENT, GUNICORN_REQUIREMENT], what="pip install netbox")
    except TestbedError as exc:
        hint = ""
        if shutil.which("pg_config") is None:
            hint = (
                "\nHint: pg_config is missing; NetBox's psycopg[c] is built from source and "
                "needs libpq-dev and gcc (apt-get install -y libpq-dev gcc)."
            )
        raise TestbedError(f"{exc}{hint}") from exc
    version = _netbox_version(settings)
    (settings.venv / MARKER).write_text(
        json.dumps({"netbox": version, "python": python, "requirement": NETBOX_REQUIREMENT}) + "\n"
    )
    log(f"NetBox {version} installed in {time.monotonic() - started:.1f}s")
    return version
