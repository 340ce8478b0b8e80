"""Packaging metadata: one version, consistent app id, valid desktop/AppStream/plist files, resources."""

from __future__ import annotations

import ast
import configparser
import plistlib
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import gsdesktop

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "packaging"
APP_ID = "org.genomespace.Desktop"
DESKTOP = PKG / "linux" / f"{APP_ID}.desktop"
AUTOSTART = PKG / "linux" / f"{APP_ID}-autostart.desktop.in"
METAINFO = PKG / "linux" / f"{APP_ID}.metainfo.xml"
SPEC = PKG / "gsdesktop.spec"


def _desktop_entry(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def test_version_has_one_source() -> None:
    """pyproject takes the version from gsdesktop.__version__; no packaging file hard-codes it."""
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", gsdesktop.__version__)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gsdesktop.__version__"}
    others = (PKG / "macos" / "Info.plist", PKG / "windows" / "version_info.txt.in")
    for path in (SPEC, DESKTOP, AUTOSTART, *others):
        assert gsdesktop.__version__ not in path.read_text(), f"{path.name} hard-codes the version"


def test_spec_reads_the_package_version() -> None:
    """The spec's read_version() (AST, no import) returns gsdesktop.__version__."""
    tree = ast.parse(SPEC.read_text())
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "read_version")
    namespace: dict[str, object] = {"ast": ast, "ROOT": ROOT}
    exec(compile(ast.Module(body=[func], type_ignores=[]), str(SPEC), "exec"), namespace)
    assert namespace["read_version"]() == gsdesktop.__version__  # type: ignore[operator]


def test_metainfo_release_matches_version_and_ids() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    releases = root.findall("releases/release")
    assert releases, "metainfo has no <release>"
    assert releases[0].get("version") == gsdesktop.__version__, "newest <release> must be __version__"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", releases[0].get("date") or "")
    launchable = root.find("launchable")
    assert launchable is not None and launchable.text == DESKTOP.name
    assert root.findtext("icon") == APP_ID


def test_desktop_entry_keys() -> None:
    entry = _desktop_entry(DESKTOP.read_text())
    assert entry["Type"] == "Application"
    assert entry["Name"] == "GenomeSpace Desktop"
    assert entry["Exec"].split()[0] == entry["TryExec"] == "gsdesktop-gui"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";") and "Science" in entry["Categories"].split(";")
    # the gui-script of the same name exists in pyproject (pipx installs put it on PATH)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["gui-scripts"]
    assert "gsdesktop-gui" in scripts


def test_autostart_template_keys() -> None:
    entry = _desktop_entry(AUTOSTART.read_text())
    assert entry["Exec"] == "@EXEC@"
    assert entry["Icon"] == APP_ID
    assert entry["NoDisplay"] == "true"
    assert entry["X-GNOME-Autostart-enabled"] == "true"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_files_validate(tmp_path: Path) -> None:
    autostart = tmp_path / f"{APP_ID}.desktop"
    autostart.write_text(AUTOSTART.read_text().replace("@EXEC@", "/opt/gsdesktop/gsdesktop-gui"))
    for path in (DESKTOP, autostart):
        result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_validates() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_macos_plists() -> None:
    info = plistlib.loads((PKG / "macos" / "Info.plist").read_bytes())
    assert info["CFBundleIdentifier"] == APP_ID
    assert info["NSHighResolutionCapable"] is True
    assert "CFBundleShortVersionString" not in info  # filled in by the spec from __version__
    agent_text = (PKG / "macos" / f"{APP_ID}.plist.in").read_text()
    agent = plistlib.loads(agent_text.replace("@EXEC@", "/Applications/A &amp; B.app/x").encode())
    assert agent["Label"] == APP_ID
    assert agent["ProgramArguments"] == ["/Applications/A & B.app/x"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] is False


def test_windows_version_template_is_a_python_expression() -> None:
    text = (PKG / "windows" / "version_info.txt.in").read_text()
    filled = text.replace("@VERSION_TUPLE@", "(1, 2, 3, 0)").replace("@VERSION@", "1.2.3")
    filled = filled.replace("@EXE_NAME@", "gsdesktop.exe")
    tree = ast.parse(filled, mode="eval")
    assert isinstance(tree.body, ast.Call) and getattr(tree.body.func, "id", "") == "VSVersionInfo"
    assert "@" not in filled


def test_resources_reach_the_package() -> None:
    """gsdesktop/resources is the top-level resources/ (symlink), and package-data globs cover it."""
    link = ROOT / "gsdesktop" / "resources"
    assert link.is_symlink() and link.resolve() == (ROOT / "resources").resolve()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "resources/**/*" in package_data["gsdesktop"]
    files = [p for p in link.glob("**/*") if p.is_file()]
    assert link / "icons" / "gsdesktop.svg" in files
    assert link / "icons" / "hicolor" / "512x512" / "apps" / f"{APP_ID}.png" in files


def test_spec_bundles_resources_and_command_modules() -> None:
    """The spec ships resources/ where importlib.resources looks, and every CLI command module."""
    from gsdesktop.cli.main import COMMAND_MODULES

    text = SPEC.read_text()
    assert '(str(ROOT / "resources"), "gsdesktop/resources")' in text
    assert 'collect_submodules("gsdesktop"' in text
    assert all(name.startswith("gsdesktop.") for name in COMMAND_MODULES)
    for entry in ("entry_cli.py", "entry_gui.py"):
        assert (PKG / entry).is_file()
        assert entry in text


def test_install_desktop_entry_script(tmp_path: Path) -> None:
    """The installer writes the entry (quoting an awkward Exec path), icons and metainfo, and removes them."""
    exe = str(tmp_path / 'my apps/gs "x"/gsdesktop-gui')
    prefix = tmp_path / "share"
    script = PKG / "linux" / "install-desktop-entry.sh"
    subprocess.run([str(script), "--prefix", str(prefix), "--exec", exe], check=True, capture_output=True)
    entry = _desktop_entry((prefix / "applications" / f"{APP_ID}.desktop").read_text())
    # string-value unescaping (\\ -> \) then Exec quoting: "…" with \" inside
    assert entry["Exec"].replace("\\\\", "\\") == '"' + exe.replace('"', '\\"') + '"'
    assert entry["TryExec"] == exe
    for size in (16, 48, 256, 512):
        assert (prefix / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (prefix / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (prefix / "metainfo" / f"{APP_ID}.metainfo.xml").read_bytes() == METAINFO.read_bytes()
    subprocess.run([str(script), "--prefix", str(prefix), "--uninstall"], check=True, capture_output=True)
    assert not (prefix / "applications" / f"{APP_ID}.desktop").exists()
    assert not any(prefix.glob("icons/hicolor/*/apps/*"))


def test_license_file_matches_pyproject() -> None:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / "LICENSE").read_text()
    assert meta["license"] == {"text": "MIT"} and text.startswith("MIT License")
    assert "License :: OSI Approved :: MIT License" in meta["classifiers"]
