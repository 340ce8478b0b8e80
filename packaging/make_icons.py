"""Render the application icon (resources/icons/gsdesktop.svg) into every raster form the packages need.

    python packaging/make_icons.py          # (re)write all outputs
    python packaging/make_icons.py --check  # exit 1 if an output is missing or stale

Outputs (all committed, so builds never need this script):

- ``resources/icons/hicolor/<N>x<N>/apps/org.genomespace.Desktop.png`` for the freedesktop hicolor sizes;
- ``packaging/windows/gsdesktop.ico`` (PNG-compressed entries, Windows Vista and later);
- ``packaging/macos/gsdesktop.icns`` (PNG entries, macOS 10.7 and later).

The SVG is rendered with QtSvg on the offscreen platform; the ICO and ICNS containers are written by
hand (both are a small header plus PNG payloads), so no imaging library is needed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "org.genomespace.Desktop"
SVG = ROOT / "resources" / "icons" / "gsdesktop.svg"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
ICO = ROOT / "packaging" / "windows" / "gsdesktop.ico"
ICNS = ROOT / "packaging" / "macos" / "gsdesktop.icns"

HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
# ICNS element type -> pixel size (PNG payloads); the @2x types reuse the larger renders.
ICNS_TYPES: tuple[tuple[bytes, int], ...] = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)
# Largest allowed mean absolute difference per channel (0..255) between a committed PNG and a fresh
# render in --check mode: tolerates rasteriser differences between Qt versions, not a changed design.
CHECK_TOLERANCE = 6.0


def hicolor_png(size: int) -> Path:
    """Where the hicolor PNG of ``size`` pixels lives."""
    return HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


class Renderer:
    """Renders the SVG to PNG bytes at any size (one offscreen QGuiApplication per process)."""

    def __init__(self, svg: Path) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtGui import QGuiApplication
        from PySide6.QtSvg import QSvgRenderer

        self._app = QGuiApplication.instance() or QGuiApplication([sys.argv[0], "-platform", "offscreen"])
        self._svg = QSvgRenderer(str(svg))
        if not self._svg.isValid():
            raise SystemExit(f"make_icons: {svg} is not a valid SVG for QtSvg")
        self._cache: dict[int, bytes] = {}

    def image(self, size: int) -> object:
        """A transparent ARGB32 QImage of ``size`` x ``size`` with the icon drawn into it."""
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QImage, QPainter

        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self._svg.render(painter)
        painter.end()
        return img

    def png(self, size: int) -> bytes:
        """PNG bytes of the icon at ``size`` pixels."""
        if size not in self._cache:
            from PySide6.QtCore import QBuffer, QByteArray, QIODevice

            data = QByteArray()
            buf = QBuffer(data)
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            if not self.image(size).save(buf, "PNG"):  # type: ignore[attr-defined]
                raise RuntimeError(f"cannot encode a {size} px PNG")
            buf.close()
            self._cache[size] = bytes(data.data())
        return self._cache[size]


def build_ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO container holding one PNG-compressed image per size (ICONDIR + ICONDIRENTRY table)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    table, payload = b"", b""
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in the ICO directory
        table += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset + len(payload))
        payload += data
    return header + table + payload


def build_icns(elements: list[tuple[bytes, bytes]]) -> bytes:
    """An ICNS container: b'icns' + total length, then (type, 8 + len, PNG) elements."""
    body = b"".join(kind + struct.pack(">I", 8 + len(data)) + data for kind, data in elements)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def parse_ico(blob: bytes) -> list[tuple[int, bytes]]:
    """(pixel size, PNG bytes) per entry of an ICO written by :func:`build_ico`; raises on bad data."""
    reserved, kind, count = struct.unpack_from("<HHH", blob, 0)
    if reserved != 0 or kind != 1 or count == 0:
        raise ValueError("not an ICO file")
    entries = []
    for i in range(count):
        w, _h, _c, _r, _planes, _bpp, length, offset = struct.unpack_from("<BBBBHHII", blob, 6 + 16 * i)
        data = blob[offset : offset + length]
        if len(data) != length or not data.startswith(b"\x89PNG"):
            raise ValueError(f"ICO entry {i} is truncated or not PNG")
        entries.append((w or 256, data))
    return entries


def parse_icns(blob: bytes) -> list[tuple[bytes, bytes]]:
    """(type, PNG bytes) per element of an ICNS file; raises on a malformed container."""
    if blob[:4] != b"icns" or struct.unpack_from(">I", blob, 4)[0] != len(blob):
        raise ValueError("not an ICNS file (bad magic or length)")
    pos, out = 8, []
    while pos < len(blob):
        kind = blob[pos : pos + 4]
        (length,) = struct.unpack_from(">I", blob, pos + 4)
        if length < 8 or pos + length > len(blob):
            raise ValueError(f"ICNS element {kind!r} overruns the file")
        out.append((kind, blob[pos + 8 : pos + length]))
        pos += length
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    w, h = struct.unpack_from(">II", data, 16)
    return int(w), int(h)


def outputs(renderer: Renderer) -> dict[Path, bytes]:
    """Every output file and its content."""
    files = {hicolor_png(size): renderer.png(size) for size in HICOLOR_SIZES}
    files[ICO] = build_ico({size: renderer.png(size) for size in ICO_SIZES})
    files[ICNS] = build_icns([(kind, renderer.png(size)) for kind, size in ICNS_TYPES])
    return files


def _mean_abs_diff(renderer: Renderer, committed: Path, size: int) -> float:
    from PySide6.QtGui import QImage

    old = QImage(str(committed)).convertToFormat(QImage.Format.Format_ARGB32)
    new = renderer.image(size).convertToFormat(QImage.Format.Format_ARGB32)  # type: ignore[attr-defined]
    if old.width() != size or old.height() != size:
        return 255.0
    a, b = bytes(old.constBits()), bytes(new.constBits())
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def check(renderer: Renderer) -> list[str]:
    """Problems with the committed outputs (missing, wrong size, or not matching the SVG)."""
    problems: list[str] = []
    for size in HICOLOR_SIZES:
        path = hicolor_png(size)
        if not path.is_file():
            problems.append(f"missing {path.relative_to(ROOT)}")
            continue
        if png_size(path.read_bytes()) != (size, size):
            problems.append(f"{path.relative_to(ROOT)} is not {size}x{size}")
            continue
        if size <= 64:  # a pixel comparison at the small sizes is cheap and catches a changed design
            diff = _mean_abs_diff(renderer, path, size)
            if diff > CHECK_TOLERANCE:
                problems.append(f"{path.relative_to(ROOT)} differs from the SVG (mean diff {diff:.1f})")
    for path, parse, expected in (
        (ICO, parse_ico, sorted(ICO_SIZES)),
        (ICNS, parse_icns, [size for _, size in ICNS_TYPES]),
    ):
        if not path.is_file():
            problems.append(f"missing {path.relative_to(ROOT)}")
            continue
        try:
            entries = parse(path.read_bytes())  # type: ignore[operator]
            got = [png_size(data)[0] for _, data in entries]
        except (ValueError, struct.error) as exc:
            problems.append(f"{path.relative_to(ROOT)}: {exc}")
            continue
        if got != expected:
            problems.append(f"{path.relative_to(ROOT)} holds sizes {got}, expected {expected}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="verify the committed outputs, write nothing")
    args = parser.parse_args(argv)
    renderer = Renderer(SVG)
    if args.check:
        problems = check(renderer)
        for problem in problems:
            print(f"make_icons: {problem}", file=sys.stderr)
        if problems:
            print("make_icons: run `python packaging/make_icons.py` and commit the result", file=sys.stderr)
            return 1
        print("make_icons: all icon outputs are present and match the SVG")
        return 0
    for path, data in outputs(renderer).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
