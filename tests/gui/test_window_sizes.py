"""Issue 18 polish: every window stays usable at 420×320 (its minimum size fits and nothing is clipped)
and fits the screen at 2× scaling (QT_SCALE_FACTOR=2 on a 1920×1080 X server: 960×540 logical)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QTabBar, QWizard

from tests.support.cli import ROOT, cli_env
from tests.support.windows import open_every_window
from tests.support.xvfb import need_tools, xvfb

SMALL = (420, 320)


def clipped(window) -> list[str]:  # type: ignore[no-untyped-def]
    """Visible buttons and labels narrower than they need, or outside the window."""
    out = []
    inside = window.rect()
    for child in window.findChildren(QAbstractButton) + window.findChildren(QLabel):
        if not child.isVisibleTo(window) or not child.isVisible() or isinstance(child.parent(), QTabBar):
            continue  # (a tab bar's scroll arrows are drawn narrower than their hint by Qt itself)
        need = child.minimumSizeHint()
        box = child.geometry()
        box.moveTopLeft(child.mapTo(window, child.rect().topLeft()))
        text = getattr(child, "text", lambda: "")() or type(child).__name__
        if isinstance(child, QLabel) and child.wordWrap():
            need.setWidth(0)
        if child.width() < need.width() or not inside.contains(box.center()):
            out.append(f"{text!r} {child.width()}x{child.height()} needs {need.width()}")
    return out


def test_every_window_is_usable_at_420_by_320(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    windows, close_all = open_every_window(client, tmp_path)
    try:
        problems = {}
        for name, window in windows.items():
            pages = [window.page(i) for i in window.pageIds()] if isinstance(window, QWizard) else []
            for page in pages:  # a wizard is as large as its largest page
                assert isinstance(window, QWizard)
                window.restart() if page is pages[0] else window.next()
                QApplication.processEvents()
                hint = window.minimumSizeHint()
                if hint.width() > SMALL[0] or hint.height() > SMALL[1]:
                    problems[f"{name}/{page.title()}"] = f"minimum {hint.width()}x{hint.height()}"
            hint = window.minimumSizeHint().expandedTo(window.minimumSize())
            if hint.width() > SMALL[0] or hint.height() > SMALL[1]:
                problems[name] = f"minimum {hint.width()}x{hint.height()}"
                continue
            window.resize(*SMALL)
            QApplication.processEvents()
            if (window.width(), window.height()) != SMALL:
                problems[name] = f"resized to {window.width()}x{window.height()}"
            elif bad := clipped(window):
                problems[name] = "; ".join(bad)
        assert problems == {}, json.dumps(problems, indent=1)
    finally:
        close_all()


def test_every_window_fits_the_screen_at_2x_scaling(account, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_tools()
    out = tmp_path / "fit.json"
    with xvfb("1920x1080x24") as display:
        env = cli_env(tmp_path / "home", account.server_url, account.username, account.password,
                      QT_QPA_PLATFORM="xcb", DISPLAY=display, QT_SCALE_FACTOR="2")  # fmt: skip
        env.pop("WAYLAND_DISPLAY", None)
        res = subprocess.run(
            [sys.executable, "-m", "tests.support.xcb_apps", "fit", str(tmp_path)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["screen"] == [0, 0, 960, 540]  # 1920×1080 at 2×
    sx, sy, sw, sh = report["screen"]
    too_big = {
        name: (x, y, w, h)
        for name, (x, y, w, h) in report["windows"].items()
        if w > sw or h > sh or x < sx or y < sy or x + w > sx + sw or y + h > sy + sh
    }
    assert too_big == {}
