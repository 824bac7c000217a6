"""The real NetBox test bed: both token versions, refusal of a wrong token, clean DB per test."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.netbox_testbed.handle import NetBoxHandle

pytestmark = pytest.mark.netbox

SITE = {"name": "Testbed Isolation", "slug": "testbed-isolation", "status": "active"}


@pytest.mark.parametrize("version", [1, 2])
def test_status_answers_with_each_token_version(
    netbox_testbed: NetBoxHandle, version: int
) -> None:
    header = netbox_testbed.auth_header(1 if version == 1 else 2)
    expected_scheme = "Token " if version == 1 else "Bearer nbt_"
    assert header["Authorization"].startswith(expected_scheme)
    response = httpx.get(f"{netbox_testbed.url}/api/status/", headers=header, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["netbox-version"].startswith("4.7")


@pytest.mark.parametrize(
    "authorization",
    [
        "Token ffffffffffffffffffffffffffffffffffffffff",
        "Bearer nbt_pbxtestbed01.WrongSecret0123456789abcdefghijklmnopqrs",
        "Bearer nbt_nosuchkey000.ProxboxTestbedSecret0123456789abcdefghij",
    ],
)
def test_wrong_token_is_refused(netbox_testbed: NetBoxHandle, authorization: str) -> None:
    response = httpx.get(
        f"{netbox_testbed.url}/api/status/",
        headers={"Authorization": authorization},
        timeout=30,
    )
    assert response.status_code == 403, response.text


def test_pynetbox_reads_status_with_v2_token(netbox_testbed: NetBoxHandle) -> None:
    status = netbox_testbed.api(2).status()
    assert status["netbox-version"].startswith("4.7")


def test_write_is_gone_after_reset(netbox: NetBoxHandle) -> None:
    client = netbox.client(1)
    created = client.post("/dcim/sites/", json=SITE)
    assert created.status_code == 201, created.text
    assert client.get("/dcim/sites/", params={"slug": SITE["slug"]}).json()["count"] == 1

    started = time.monotonic()
    netbox.reset()
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"reset() took {elapsed:.1f}s"

    # Gunicorn kept running; its workers reconnect to the fresh database.
    assert client.get("/dcim/sites/").json()["count"] == 0
    assert client.get("/status/").status_code == 200


def test_each_test_starts_with_a_clean_database(netbox: NetBoxHandle) -> None:
    """Runs after a test that wrote: the `netbox` fixture handed it a clean database."""
    api = netbox.api(2)
    assert api.dcim.sites.count() == 0
    site = api.dcim.sites.create(**SITE)
    assert site.id is not None
    assert api.dcim.sites.count() == 1
