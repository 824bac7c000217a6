"""Find a Python interpreter new enough for NetBox 4.7 (>= 3.12)."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

from .settings import TestbedError

MINIMUM = (3, 12)


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _candidates(explicit: str | None) -> list[str]:
    found: list[str] = []
    if explicit:
        found.append(explicit)
    for name in ("python3.13", "python3.12"):
        path = shutil.which(name)
        if path:
            found.append(path)
    roots = ["/root/.pyenv/versions", str(Path.home() / ".pyenv" / "versions")]
    for root in dict.fromkeys(roots):
        pattern = f"{root}/3.1[2-9]*/bin/python3.1[2-9]"
        found.extend(sorted(glob.glob(pattern), reverse=True))
    return list(dict.fromkeys(found))


def find_python(explicit: str | None) -> str:
    """Return the first interpreter >= 3.12; ``explicit`` (PROXBOX_NETBOX_PYTHON) must qualify."""
    tried: list[str] = []
    for candidate in _candidates(explicit):
        version = _version(candidate)
        if version is not None and version >= MINIMUM:
            return candidate
        shown = "not runnable" if version is None else f"{version[0]}.{version[1]}"
        tried.append(f"{candidate} ({shown})")
        if candidate == explicit:
            raise TestbedError(
                f"PROXBOX_NETBOX_PYTHON={explicit} is {shown}; NetBox 4.7 needs Python >= 3.12"
            )
    raise TestbedError(
        "No Python >= 3.12 found (NetBox 4.7 requires it). Tried: "
        + (", ".join(tried) or "nothing")
        + ". Looked at $PROXBOX_NETBOX_PYTHON, python3.13/python3.12 on PATH, and "
        "/root/.pyenv/versions/3.1[2-9]*, ~/.pyenv/versions/3.1[2-9]*. Install one "
        "(e.g. `pyenv install 3.12`) or set PROXBOX_NETBOX_PYTHON."
    )
