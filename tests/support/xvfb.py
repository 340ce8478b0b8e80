"""A private Xvfb display for tests that need a real X server (Qt's xcb platform, real drag and drop)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def need_tools(*tools: str) -> None:
    missing = [t for t in ("Xvfb", *tools) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install xvfb xdotool)")


@contextmanager
def xvfb(screen: str = "1920x1080x24") -> Iterator[str]:
    """Start Xvfb on a free display; yields ``":N"``; stops it (by its pid) afterwards."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", screen, "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        assert number.strip(), "Xvfb did not start"
        yield f":{number.decode().strip()}"
    finally:
        os.close(read)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
