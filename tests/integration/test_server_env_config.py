"""``server run`` takes every option from GSDM_* variables; --data-dir is not needed with an S3 endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from gsdesktop.server.seaweed import S3Config, free_port
from tests.support.cli import ROOT


def _env(s3: S3Config, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSDM_", "AWS_"))}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=s3.access_key or "")
    env["AWS_SECRET_ACCESS_KEY"] = s3.secret_key or ""
    env.update(extra)
    return env


def test_server_run_is_configured_from_the_environment(seaweed: S3Config, tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        seaweed, tmp_path,
        GSDM_HOST="127.0.0.1", GSDM_PORT=str(port), GSDM_S3_ENDPOINT=seaweed.endpoint or "",
        GSDM_S3_BUCKET=seaweed.bucket, GSDM_PUBLIC_URL="https://dm.example.org", GSDM_ACCESS_LOG="1",
        GSDM_MULTIPART_MD5_AT_COMPLETE="on", GSDM_DEMO_USER="envdemo", GSDESKTOP_DEMO_PASSWORD="env-demo-pw",
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsdesktop", "server", "run"],  # no --data-dir, no options at all
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                reply = requests.get(f"http://127.0.0.1:{port}/identityServer/basic", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "server did not start on GSDM_PORT"
                time.sleep(0.2)
        assert reply.status_code == 401
        # GSDM_DEMO_USER made the account; GSDM_PUBLIC_URL names the base URL in the v1.0 redirect
        root = requests.get(
            f"http://127.0.0.1:{port}/datamanager/v1.0/personaldirectory", timeout=5, allow_redirects=False,
            auth=("envdemo", "env-demo-pw"),
        )  # fmt: skip
        assert root.status_code == 303, root.text[:300]
        assert root.headers["location"] == "https://dm.example.org/datamanager/v1.0/file/Home/envdemo"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "GET /identityServer/basic" in out, out[-2000:]  # GSDM_ACCESS_LOG=1 logs every request
    assert not list(tmp_path.glob("seaweedfs*")), "no embedded store with an external endpoint"


def test_a_bad_environment_value_is_refused_like_an_option(seaweed: S3Config, tmp_path: Path) -> None:
    env = _env(seaweed, tmp_path, GSDM_PORT="eighty", GSDM_DATA_DIR=str(tmp_path / "d"))
    proc = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "server", "run"], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "invalid int value: 'eighty'" in proc.stderr, proc.stderr


def test_no_store_and_no_credentials_say_what_to_give(seaweed: S3Config, tmp_path: Path) -> None:
    no_store = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "server", "run", "--port", str(free_port())],
        env=_env(seaweed, tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert no_store.returncode == 1, no_store.stderr
    assert no_store.stderr.strip().splitlines() == [
        "gsdesktop: error: give --data-dir (the embedded SeaweedFS keeps its data there) "
        "or --s3-endpoint and --s3-bucket"
    ]
    env = _env(seaweed, tmp_path, GSDM_S3_ENDPOINT=seaweed.endpoint or "", GSDM_S3_BUCKET=seaweed.bucket)
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    no_creds = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "server", "run", "--port", str(free_port())],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert no_creds.returncode == 1, no_creds.stderr
    assert "AWS_ACCESS_KEY_ID" in no_creds.stderr and "Traceback" not in no_creds.stderr, no_creds.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "server", "run", "--help"], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "AWS_ACCESS_KEY_ID" in help_text and "GSDM_PORT" in help_text
