"""Transfer settings a user may give in the environment, read and checked in one place.

A value that is not a whole number in its range is refused with a :class:`SettingError` that names the
variable and the range, before anything is sent, instead of surfacing later as a bare ``ValueError`` or
as ten thousand threads.
"""

from __future__ import annotations

import os

from gsdesktop.datamanager.errors import SettingError

UPLOAD_WORKERS = "GSDESKTOP_UPLOAD_WORKERS"
MULTIPART_THRESHOLD_MIB = "GSDESKTOP_MULTIPART_THRESHOLD_MIB"
DOWNLOAD_WORKERS = "GSDESKTOP_DOWNLOAD_WORKERS"
DOWNLOAD_BLOCK_MIB = "GSDESKTOP_DOWNLOAD_BLOCK_MIB"
DOWNLOAD_SPAN_MIB = "GSDESKTOP_DOWNLOAD_SPAN_MIB"
RETRIES = "GSDESKTOP_RETRIES"


def env_int(name: str, default: int, minimum: int, maximum: int) -> int:
    """The whole number in environment variable ``name``, or ``default`` when it is unset or empty.

    Raises:
        SettingError: the value is not a whole number from ``minimum`` to ``maximum``.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise SettingError(f"{name} must be a whole number from {minimum} to {maximum}, not {raw!r}")
    return value


__all__ = [
    "DOWNLOAD_BLOCK_MIB",
    "DOWNLOAD_SPAN_MIB",
    "DOWNLOAD_WORKERS",
    "MULTIPART_THRESHOLD_MIB",
    "RETRIES",
    "UPLOAD_WORKERS",
    "env_int",
]
