"""Renames that never lose what is at the target: an atomic exchange of two names (Linux
``renameat2(RENAME_EXCHANGE)``) and a rename that never replaces (``RENAME_NOREPLACE``).

A download takes a local file's name by swapping its finished temp file with the file there, then looks
at what it swapped out: unlike a rename over the name, a version saved at the last moment (after the
final check of the local file) is never replaced without a trace; it comes out of the swap and is kept.

Where there is no such call (other systems, a C library or kernel without it, a file system that does
not support the flag: ``EINVAL``, ``ENOSYS``, ``EOPNOTSUPP``) :func:`exchange` says so and the caller
falls back to a plain rename. macOS has ``renamex_np(RENAME_SWAP / RENAME_EXCL)`` (not used: not
testable here). :func:`rename_noreplace` is atomic on Linux and Windows (whose rename never replaces);
elsewhere it checks the name first (a file created in that instant could still be replaced).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

RENAME_NOREPLACE = 1  # <linux/fs.h>
RENAME_EXCHANGE = 2
AT_FDCWD = -100
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}

_Renameat2 = Callable[[int, bytes, int, bytes, int], int]


def _bind() -> _Renameat2 | None:
    """libc's ``renameat2`` (glibc >= 2.28, musl >= 1.2.?); None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2: _Renameat2 | None = _bind()
SUPPORTED = _renameat2 is not None  # the call exists (a file system may still refuse it: see exchange)


def exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one atomic step (both must exist; either may be a file, a
    folder or a symbolic link, which is not followed).

    Returns:
        True when swapped; False when this system or file system cannot (nothing was changed).

    Raises:
        OSError: the exchange was refused for another reason (e.g. ``FileNotFoundError`` when either
            name is missing, ``EXDEV`` across file systems).
    """
    return _call(a, b, RENAME_EXCHANGE)


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` only if nothing is there (a file, folder or link at ``dst`` stays).

    Raises:
        FileExistsError: ``dst`` exists (``src`` is unchanged).
        OSError: the rename failed for another reason.
    """
    if _call(src, dst, RENAME_NOREPLACE):
        return
    if sys.platform == "win32":
        os.rename(src, dst)  # never replaces there (FileExistsError)
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def place_new(src: Path, dst: Path) -> None:
    """Give the file ``src`` the free name ``dst`` and drop the name ``src``, never over anything that
    appeared at ``dst`` meanwhile (a user's save): a hard link (atomic wherever there are hard links),
    else :func:`rename_noreplace`.

    Raises:
        FileExistsError: ``dst`` exists (it is untouched; ``src`` is kept).
        OSError: the file could not be placed for another reason.
    """
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # no hard links here
        rename_noreplace(src, dst)
        return
    try:
        os.unlink(src)
    except FileNotFoundError:
        pass


def _call(a: Path, b: Path, flags: int) -> bool:
    """renameat2(a, b, flags): True when done, False when unsupported here; OSError otherwise."""
    fn = _renameat2
    if fn is None:
        return False
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    cls = FileExistsError if err == errno.EEXIST else OSError
    raise cls(err, os.strerror(err), str(a), None, str(b))


__all__ = ["SUPPORTED", "exchange", "place_new", "rename_noreplace"]
