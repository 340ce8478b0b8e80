"""Server logs: --log-format json gives one JSON object per line; every request has an id, echoed back
as X-Request-ID and written in its access-log line (and in any other line logged while it runs)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from gsdesktop.server.seaweed import S3Config
from tests.support.servers import ServerProcess


def _json_lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_json_access_log_with_request_ids(seaweed: S3Config, tmp_path: Path) -> None:
    args = ["--access-log", "--log-format", "json"]
    server = ServerProcess(tmp_path / "s", seaweed, extra_args=args).start()
    try:
        given = requests.get(server.url + "/healthz", headers={"X-Request-ID": "lab-req-42"}, timeout=10)
        assert given.headers["x-request-id"] == "lab-req-42"
        made = requests.get(server.url + "/identityServer/basic", timeout=10)
        assert made.status_code == 401
        rid = made.headers["x-request-id"]
        assert len(rid) == 16 and rid != "lab-req-42"
        bad_id = "a b\x7f" + "x" * 100
        hostile = requests.get(server.url + "/healthz", headers={"X-Request-ID": bad_id}, timeout=10)
        assert hostile.headers["x-request-id"] != bad_id  # not echoed: replaced by a new id
        deadline = time.monotonic() + 10
        while True:
            records = _json_lines(server.log_tail(200_000))
            access = [r for r in records if r.get("logger") == "gsdesktop.access"]
            if len(access) >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.stop()
    records = _json_lines(server.log_tail(200_000))
    assert records, server.log_tail()
    for rec in records:  # every line is a JSON object with these fields
        assert {"ts", "level", "logger", "message"} <= rec.keys(), rec
    by_id = {r.get("request_id"): r for r in records if r.get("logger") == "gsdesktop.access"}
    assert by_id["lab-req-42"]["path"] == "/healthz" and by_id["lab-req-42"]["status"] == 200
    assert by_id[rid]["path"] == "/identityServer/basic" and by_id[rid]["status"] == 401
    assert isinstance(by_id[rid]["duration_ms"], float) and by_id[rid]["method"] == "GET"
    # uvicorn's own start-up lines come through the same setup
    assert any(str(r["logger"]).startswith("uvicorn") for r in records), records[:5]


def test_text_log_is_the_default(seaweed: S3Config, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "t", seaweed, extra_args=["--access-log"]).start()
    try:
        reply = requests.get(server.url + "/healthz", headers={"X-Request-ID": "plain-1"}, timeout=10)
        assert reply.headers["x-request-id"] == "plain-1"
        time.sleep(0.5)
    finally:
        server.stop()
    lines = [ln for ln in server.log_tail(200_000).splitlines() if "gsdesktop.access:" in ln]
    assert any('"GET /healthz" 200' in ln and ln.endswith("[plain-1]") for ln in lines), lines


def test_cli_debug_log_as_json(tmp_path: Path) -> None:
    from tests.support.cli import cli_env, run_cli

    env = cli_env(tmp_path / "home", "http://127.0.0.1:9", "someone", "pw", GSDESKTOP_RETRIES="0")
    res = run_cli(["--log-format", "json", "--debug", "ls"], env, timeout=60)
    assert res.code != 0
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    logged = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert logged, res.err
    assert all({"ts", "level", "logger", "message"} <= rec.keys() for rec in logged)
    # besides JSON records only the one error line (and the --debug traceback) are on stderr
    assert any(ln.startswith("gsdesktop: error:") for ln in lines), res.err
