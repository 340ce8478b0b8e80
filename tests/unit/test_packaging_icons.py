"""App icon: committed PNG/ICO/ICNS match the SVG and are well-formed containers."""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "make_icons.py"


@pytest.fixture(scope="module")
def make_icons() -> ModuleType:
    # loaded from its path: a top-level "packaging" import would shadow the PyPI "packaging" library
    spec = importlib.util.spec_from_file_location("gsd_make_icons", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_icons_are_up_to_date_with_the_svg() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hicolor_pngs_have_their_sizes(make_icons: ModuleType) -> None:
    for size in make_icons.HICOLOR_SIZES:
        path = make_icons.hicolor_png(size)
        assert make_icons.png_size(path.read_bytes()) == (size, size), path


def test_ico_container(make_icons: ModuleType) -> None:
    blob = make_icons.ICO.read_bytes()
    entries = make_icons.parse_ico(blob)
    assert [size for size, _ in entries] == sorted(make_icons.ICO_SIZES)
    for size, png in entries:
        assert make_icons.png_size(png) == (size, size)
    # the 256 px entry is recorded as 0 x 0 in the directory, as Windows expects
    count = struct.unpack_from("<H", blob, 4)[0]
    dims = [blob[6 + 16 * i] for i in range(count)]
    assert dims[-1] == 0 and 256 in make_icons.ICO_SIZES


def test_icns_container(make_icons: ModuleType) -> None:
    elements = make_icons.parse_icns(make_icons.ICNS.read_bytes())
    assert [kind for kind, _ in elements] == [kind for kind, _ in make_icons.ICNS_TYPES]
    for (_, png), (_, size) in zip(elements, make_icons.ICNS_TYPES, strict=True):
        assert make_icons.png_size(png) == (size, size)


def test_container_parsers_reject_garbage(make_icons: ModuleType) -> None:
    with pytest.raises(ValueError):
        make_icons.parse_icns(b"icns\x00\x00\x00\x10ic07\x00\x00\x00\xff")
    with pytest.raises(ValueError):
        make_icons.parse_ico(b"\x00\x00\x02\x00\x01\x00" + b"\x00" * 16)
    with pytest.raises(ValueError):
        make_icons.png_size(b"GIF89a")
