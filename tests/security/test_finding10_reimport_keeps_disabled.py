"""Issue 15 finding 10: re-importing an unchanged row must not re-enable an item a curator disabled.

Through HTTP (import, disable, re-import, lookup), on SQLite and PostgreSQL when configured.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import pytest

from test_api_support import BACKENDS, Api, running_api, unique


@pytest.fixture(scope="module", params=BACKENDS)
def api(request, tmp_path_factory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("home"), request.param) as running:
        yield running


def test_reimport_of_an_unchanged_row_keeps_the_item_disabled(api: Api) -> None:
    c, cur = api.client, api.h("curator")
    bank = unique()
    assert c.post("/api/v1/banks", json={"name": bank}, headers=cur).status_code == 201
    known = hashlib.md5(b"known item bytes").hexdigest()
    csv = f"signal_type,signal,id\nmd5,{known},item-1\n".encode()
    upload = {"file": ("list.csv", csv, "text/csv")}
    assert c.post(f"/api/v1/banks/{bank}/import", files=upload, headers=cur).json()["added"] == 1
    disabled = c.patch(f"/api/v1/banks/{bank}/items/item-1", json={"enabled": False}, headers=cur)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    again = c.post(f"/api/v1/banks/{bank}/import", files=upload, headers=cur).json()
    assert again["added"] == 0 and again["unchanged"] == 1
    assert c.get(f"/api/v1/banks/{bank}/items/item-1", headers=cur).json()["enabled"] is False
    found = c.post("/api/v1/lookup", files={"file": ("x.bin", b"known item bytes", "application/octet-stream")},
                   headers=api.h("matcher"))
    assert found.status_code == 200 and not [m for m in found.json()["matches"] if m["bank"] == bank]
