"""Issue 16 item 13: a recursive listing in brief form (``fields=brief``) for the sync engine.

A full entry carries the GenomeSpace metadata (URLs, owner, effectiveAcl, three data formats with
descriptions): ~1.7 KB each, so listing a tree of 2,000 small files cost the first sync download more than
half a second of JSON on each side. The brief form has what sync compares (path, type, size, MD5, time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient


class SizingClient(DataManagerClient):
    """The real client, recording the size of each listing answer it receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: list[tuple[str, int]] = []

    def request(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        resp = super().request(method, route, **kwargs)
        if (kwargs.get("params") or {}).get("recursive"):
            self.answers.append((str(kwargs["params"].get("fields", "")), len(resp.content)))
        return resp


@pytest.fixture
def client(account, tmp_home: Path) -> Iterator[SizingClient]:  # type: ignore[no-untyped-def]
    c = SizingClient(account.server_url, account.username, account.password)
    c.login()
    yield c
    c.close()


def test_a_brief_recursive_listing_has_what_sync_compares_in_a_fraction_of_the_bytes(
    client: SizingClient, tmp_path: Path
) -> None:
    h = client.home
    client.mkdir(f"{h}/t/sub/deeper", parents=True)
    for rel in ("t/a.txt", "t/sub/b.fa", "t/sub/deeper/c.bam", "t/sub/empty/", "t/d e.gct", "t/big.bin"):
        if rel.endswith("/"):
            client.mkdir(f"{h}/{rel.rstrip('/')}", parents=True)
            continue
        local = tmp_path / rel.replace("/", "_")
        local.write_bytes(rel.encode() * (3000 if rel.endswith("big.bin") else 3))
        client.upload(local, f"{h}/{rel}")
    full = client.list_recursive(f"{h}/t")
    brief = client.list_recursive(f"{h}/t", brief=True)

    def facts(entries: list[Any]) -> list[tuple[str, bool, int | None, str | None, object]]:
        return [(m.path, m.is_directory, m.size if not m.is_directory else None, m.md5, m.last_modified)
                for m in entries]  # fmt: skip

    assert facts(brief) == facts(full) and len(full) == 8
    assert all(m.md5 for m in brief if not m.is_directory)
    assert [m.name for m in brief] == [m.name for m in full]
    (full_fields, full_bytes), (brief_fields, brief_bytes) = client.answers
    assert (full_fields, brief_fields) == ("", "brief")
    assert brief_bytes * 4 < full_bytes, (brief_bytes, full_bytes)


def test_the_brief_form_is_only_for_recursive_listings_and_keeps_access_rules(  # type: ignore[no-untyped-def]
    client: SizingClient, account, make_account
) -> None:
    h = client.home
    client.mkdir(f"{h}/private")
    other = make_account()
    resp = requests.get(
        f"{account.server_url}/datamanager/files{h}/private",
        params={"recursive": "true", "fields": "brief"},
        auth=(other.username, other.password),
        timeout=10,
    )
    assert resp.status_code == 403  # the same answer as without fields=brief
    plain = client.request("GET", f"/datamanager/files{h}", params={"fields": "brief"})
    assert "effectiveAcl" in plain.json()["contents"][0]  # a plain listing ignores it
