"""Dragging a remote file out of the browser into another application on a real X server (Xvfb, Qt's
xcb platform, the pointer moved by xdotool): the other application receives the whole file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import ROOT, cli_env
from tests.support.xvfb import need_tools, xvfb


def wait_json(path: Path, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        for p in procs:
            assert p.poll() is None, f"a test window exited ({p.returncode})"
        time.sleep(0.1)
    raise AssertionError(f"{path.name} not written in {timeout} s")


def test_drag_a_file_out_of_the_browser_into_another_app(account, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_tools("xdotool")
    folder = f"{client.home}/dragout"
    client.mkdir(folder)
    data = bytes(range(256)) * 4096  # 1 MiB
    (tmp_path / "reads.bin").write_bytes(data)
    client.upload(tmp_path / "reads.bin", f"{folder}/reads.bin")
    with xvfb() as display:
        env = cli_env(tmp_path / "home", account.server_url, account.username, account.password,
                      QT_QPA_PLATFORM="xcb", DISPLAY=display, FOLDER=folder)  # fmt: skip
        env.pop("WAYLAND_DISPLAY", None)
        logs = {kind: (tmp_path / f"{kind}.log").open("wb") for kind in ("browser", "target")}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.xcb_apps", kind, str(tmp_path)],
                env=env,
                cwd=ROOT,
                stderr=log,
            )
            for kind, log in logs.items()
        ]
        try:
            rows = wait_json(tmp_path / "browser.json", procs)
            target = wait_json(tmp_path / "target.json", procs)
            assert isinstance(target, list)
            tx, ty = (int(v) for v in target)
            x, y = rows["reads.bin"]  # type: ignore[index]

            def xdo(*args: object) -> None:
                subprocess.run(["xdotool", *map(str, args)], env=env, check=True, timeout=30)

            xdo("mousemove", x, y)
            xdo("click", 1)  # select the row
            time.sleep(0.3)
            xdo("mousedown", 1)
            for step in range(1, 21):  # a real drag: many small moves to the other window
                xdo("mousemove", x + (tx - x) * step // 20, y + (ty - y) * step // 20)
                time.sleep(0.05)
            time.sleep(0.3)
            xdo("mouseup", 1)
            dropped = wait_json(tmp_path / "dropped.json", procs, timeout=60)
        finally:
            (tmp_path / "stop").write_text("")
            for p in procs:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
            for log in logs.values():
                log.close()
    assert dropped == ["reads.bin"]
    assert (tmp_path / "received" / "reads.bin").read_bytes() == data  # the whole file, not a partial one
