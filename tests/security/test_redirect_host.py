"""Redirects and ``url`` fields follow the request's ``Host`` only when no ``--public-url`` is set.

With ``--public-url`` a forged ``Host`` header cannot send clients (and their Basic credentials on a
followed redirect) to another host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from gsdesktop.server.seaweed import S3Config
from tests.support.servers import ServerProcess

PUBLIC = "https://genomespace.example.org"


def test_public_url_wins_over_a_forged_host(make_account: Any, seaweed: S3Config, tmp_path: Path) -> None:
    user = make_account("host")
    server = ServerProcess(tmp_path / "pub", seaweed, extra_args=["--public-url", PUBLIC]).start()
    try:
        for url in (server.url, user.server_url):
            r = requests.get(
                f"{url}/datamanager/v1.0/defaultdirectory",
                auth=(user.username, user.password),
                headers={"Host": "evil.example.net"},
                allow_redirects=False,
                timeout=10,
            )
            assert r.status_code == 302, r.text
            location = r.headers["Location"]
            if url == server.url:  # --public-url: the configured name, whatever Host says
                assert location.startswith(PUBLIC + "/datamanager/v1.0/file/Home/"), location
            else:  # no --public-url: the request's Host (documented)
                assert location.startswith("http://evil.example.net/"), location
        listing = requests.get(
            f"{server.url}/datamanager/v1.0/file/Home/{user.username}",
            auth=(user.username, user.password),
            headers={"Host": "evil.example.net"},
            timeout=10,
        ).json()
        assert listing["directory"]["url"].startswith(PUBLIC), listing["directory"]
    finally:
        server.stop()
