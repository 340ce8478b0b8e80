"""The embedded SeaweedFS survives a port taken between picking it and binding it."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from gsdesktop.server import seaweed


def test_start_retries_on_fresh_ports_when_a_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    real_free_port = seaweed.free_port
    calls = {"n": 0}

    def first_call_gets_a_taken_port(with_grpc: bool = False) -> int:
        calls["n"] += 1
        return port if calls["n"] == 1 else real_free_port(with_grpc)

    monkeypatch.setattr(seaweed, "free_port", first_call_gets_a_taken_port)
    store = seaweed.EmbeddedSeaweed(tmp_path)
    try:
        cfg = store.start(timeout=60)
        assert calls["n"] > 6  # a second set of ports was picked
        assert f"port allocation failed: port {port}" in (tmp_path / "seaweedfs/weed.log").read_text().lower()
        s3 = boto3.client("s3", endpoint_url=cfg.endpoint, aws_access_key_id=cfg.access_key,
                          aws_secret_access_key=cfg.secret_key, region_name=cfg.region,
                          config=Config(s3={"addressing_style": "path"}))  # fmt: skip
        s3.put_object(Bucket=cfg.bucket, Key="probe", Body=b"ok")
        assert s3.get_object(Bucket=cfg.bucket, Key="probe")["Body"].read() == b"ok"
    finally:
        store.stop()
        taken.close()
