"""`gsdesktop completion bash|zsh|fish` completes commands, options and choices in real shells."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT

CASES = [  # (words typed so far, the word being completed, candidates that must appear, ones that must not)
    ("", "lo", {"login", "logout"}, {"ls"}),
    ("server", "", {"run", "add-user", "passwd", "remove-user", "list-users"}, {"login"}),
    ("server run", "--s3-e", {"--s3-endpoint"}, set()),
    ("sync", "--mo", {"--mode"}, set()),
    ("sync --mode", "", {"two-way", "upload-only", "download-only"}, {"afile.txt"}),
    ("completion", "", {"bash", "zsh", "fish"}, set()),
    ("put", "af", {"afile.txt"}, set()),  # local paths are files
    ("", "sha", {"share", "shared"}, {"unshare"}),  # sharing (issue 19)
    ("share", "--", {"--user", "--group", "--public", "--write", "--json"}, set()),
    ("group", "", {"create", "delete", "add", "remove", "list"}, {"login"}),
    ("group remove", "--a", {"--admin"}, set()),
    ("url", "--pu", {"--public"}, set()),
]


def _script(shell: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "completion", shell], capture_output=True, text=True, env=env,
        timeout=60, check=True,
    )  # fmt: skip
    return proc.stdout


def _bash_complete(script: Path, words: str, cur: str, cwd: Path, shell: list[str]) -> set[str]:
    typed = ["gsdesktop", *words.split(), cur]
    array = " ".join(f"'{w}'" for w in typed)
    code = (
        f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(typed) - 1}; "
        'COMP_LINE="${COMP_WORDS[*]}"; _gsdesktop; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run([*shell, code], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return {ln.rstrip("/") for ln in out.stdout.splitlines() if ln}


@pytest.mark.parametrize(("words", "cur", "must", "must_not"), CASES)
def test_bash(tmp_path: Path, words: str, cur: str, must: set[str], must_not: set[str]) -> None:
    (tmp_path / "afile.txt").write_text("x")
    script = tmp_path / "c.bash"
    script.write_text(_script("bash"))
    got = _bash_complete(script, words, cur, tmp_path, ["bash", "-c"])
    assert must <= got and not (must_not & got), got


def test_zsh_loads_the_script_and_completes(tmp_path: Path) -> None:
    zsh = shutil.which("zsh")
    assert zsh, "zsh is missing (Debian package zsh; .ci/run installs it)"
    script = tmp_path / "c.zsh"
    script.write_text(_script("zsh"))
    (tmp_path / "afile.txt").write_text("x")
    env = {**os.environ, "HOME": str(tmp_path)}
    code = f"source {script} && whence -w _gsdesktop && complete -p gsdesktop"
    check = subprocess.run([zsh, "-f", "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                           timeout=60)  # fmt: skip
    assert check.returncode == 0 and "_gsdesktop: function" in check.stdout, check.stdout + check.stderr
    for words, cur, must, must_not in CASES:
        typed = ["gsdesktop", *words.split(), cur]
        # bashcompinit's compgen -F calls the function under `emulate -L sh` (0-based arrays, as in bash)
        code = (
            f"source {script}; () {{ emulate -L sh; "
            f"COMP_WORDS=({' '.join(repr(w) for w in typed)}); COMP_CWORD={len(typed) - 1}; "
            '_gsdesktop; print -l -- "${COMPREPLY[@]}" }'
        )
        out = subprocess.run([zsh, "-f", "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                             timeout=60)  # fmt: skip
        # zsh's compgen leaves the prefix match to zsh's own matcher, which keeps what starts with `cur`
        got = {ln.rstrip("/") for ln in out.stdout.splitlines() if ln.startswith(cur)}
        assert must <= got and not (must_not & got), (words, cur, got, out.stderr)


def test_fish(tmp_path: Path) -> None:
    fish = shutil.which("fish")
    assert fish, "fish is missing (Debian package fish; .ci/run installs it)"
    script = tmp_path / "gsdesktop.fish"
    script.write_text(_script("fish"))
    (tmp_path / "afile.txt").write_text("x")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert subprocess.run([fish, "-n", str(script)], timeout=60).returncode == 0
    for words, cur, must, must_not in CASES:
        line = " ".join(["gsdesktop", *words.split(), cur])
        out = subprocess.run([fish, "--no-config", "-c", f"source {script}; complete -C '{line}'"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)  # fmt: skip
        got = {ln.split("\t")[0].rstrip("/") for ln in out.stdout.splitlines() if ln}
        assert must <= got and not (must_not & got), (line, got, out.stderr)


def test_every_command_help_states_its_exit_codes() -> None:
    from gsdesktop.cli.completion import walk_parsers
    from gsdesktop.cli.main import build_parser

    missing = [
        " ".join(path) for path, parser in walk_parsers(build_parser())
        if path and "exit codes" not in parser.format_help().lower()
    ]  # fmt: skip
    assert not missing, f"--help without exit codes: {missing}"
