"""gsdesktop.sync.swap.exchange: the atomic exchange of two names on real files (Linux), and the answer
"not here" (nothing changed) that makes the caller fall back to a rename."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gsdesktop.sync import swap

linux_only = pytest.mark.skipif(not swap.SUPPORTED, reason="no renameat2 here (the fallback is tested)")


@linux_only
def test_exchange_swaps_two_files_in_place(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    ino_a, ino_b = a.stat().st_ino, b.stat().st_ino
    assert swap.exchange(a, b) is True
    assert (a.read_bytes(), b.read_bytes()) == (b"B", b"A")
    assert (a.stat().st_ino, b.stat().st_ino) == (ino_b, ino_a)  # the same files, names swapped


@linux_only
def test_exchange_swaps_a_file_with_a_folder_or_a_link_without_following_it(tmp_path: Path) -> None:
    f, d, link = tmp_path / "f", tmp_path / "d", tmp_path / "link"
    f.write_bytes(b"file")
    d.mkdir()
    (d / "inside").write_bytes(b"x")
    link.symlink_to(f)
    assert swap.exchange(f, d)
    assert f.is_dir() and (f / "inside").read_bytes() == b"x" and d.read_bytes() == b"file"
    assert swap.exchange(d, link)
    assert d.is_symlink() and os.readlink(d) == str(f) and link.read_bytes() == b"file"


@linux_only
def test_exchange_with_a_missing_name_raises_and_changes_nothing(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.write_bytes(b"A")
    with pytest.raises(FileNotFoundError):
        swap.exchange(a, tmp_path / "missing")
    assert a.read_bytes() == b"A" and not (tmp_path / "missing").exists()


@linux_only
def test_a_kernel_einval_reads_as_not_supported(tmp_path: Path) -> None:
    """The kernel answers EINVAL for a flag the file system does not support; it also does for a folder
    exchanged with its own subfolder, which gets the same real answer here: False, nothing changed."""
    outer = tmp_path / "outer"
    (outer / "inner").mkdir(parents=True)
    assert swap.exchange(outer, outer / "inner") is False
    assert (outer / "inner").is_dir()


def test_without_renameat2_exchange_says_so_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on macOS, Windows or a C library without renameat2: the caller falls back to a rename."""
    monkeypatch.setattr(swap, "_renameat2", None)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    assert swap.exchange(a, b) is False
    assert (a.read_bytes(), b.read_bytes()) == (b"A", b"B")


@linux_only
def test_rename_noreplace_refuses_an_existing_name_and_moves_to_a_free_one(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    for there in ("file", "folder", "link"):
        if there == "file":
            dst.write_bytes(b"the user's")
        elif there == "folder":
            dst.mkdir()
        else:
            dst.symlink_to(tmp_path / "nowhere")
        with pytest.raises(FileExistsError):
            swap.rename_noreplace(src, dst)
        assert src.read_bytes() == b"new" and os.path.lexists(dst)
        if there == "file" or there == "link":
            dst.unlink()
        else:
            dst.rmdir()
    swap.rename_noreplace(src, dst)
    assert dst.read_bytes() == b"new" and not src.exists()


def test_rename_noreplace_without_renameat2_checks_the_name_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swap, "_renameat2", None)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    dst.write_bytes(b"the user's")
    with pytest.raises(FileExistsError):
        swap.rename_noreplace(src, dst)
    assert dst.read_bytes() == b"the user's"
    dst.unlink()
    swap.rename_noreplace(src, dst)
    assert dst.read_bytes() == b"new" and not src.exists()


def test_place_new_gives_a_free_name_and_never_replaces(tmp_path: Path) -> None:
    src, dst = tmp_path / "tmp", tmp_path / "f.txt"
    src.write_bytes(b"download")
    ino = src.stat().st_ino
    swap.place_new(src, dst)
    assert dst.read_bytes() == b"download" and dst.stat().st_ino == ino and not src.exists()
    again = tmp_path / "tmp2"
    again.write_bytes(b"newer download")
    with pytest.raises(FileExistsError):
        swap.place_new(again, dst)  # a user's file is there now: it stays, and so does the download
    assert (dst.read_bytes(), again.read_bytes()) == (b"download", b"newer download")


def test_place_new_without_hard_links_still_never_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:  # e.g. FAT or some network file systems
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    src, dst = tmp_path / "tmp", tmp_path / "f.txt"
    src.write_bytes(b"download")
    swap.place_new(src, dst)
    assert dst.read_bytes() == b"download" and not src.exists()
    src.write_bytes(b"newer download")
    with pytest.raises(FileExistsError):
        swap.place_new(src, dst)
    assert (dst.read_bytes(), src.read_bytes()) == (b"download", b"newer download")
