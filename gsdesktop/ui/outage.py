"""Honest status while the server or its storage is down (no Qt here: plain text and logging).

* :func:`classify` tells from an error message whether the configured server cannot be reached
  (``offline``) or the server answers but its storage does not (``storage``: its 503 "the storage service
  failed", or a transfer to a storage address that is not the server's).
* :func:`for_user` rewrites such a message so it names the server the user configured, never an internal
  storage address such as ``127.0.0.1:27526``.
* :class:`RetryWatcher` hears the client's "retrying after: …" log lines, so the app knows of an outage at
  the first failed attempt, not minutes later when the retries are spent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

OFFLINE = "offline"
STORAGE = "storage"

#: the client's phrases for a host that cannot be reached (gsdesktop.datamanager.http.error_for_exception)
_UNREACHABLE = (
    r"Cannot connect to (?P<host>[^\s()]+) \(is the server running\?\)",
    r"Timed out connecting to (?P<host>[^\s()]+)",
    r"(?P<host>[^\s()]+) did not answer in time",
    r"Connection to (?P<host>[^\s()]+) broke during the transfer",
    r"Network problem talking to (?P<host>[^\s():]+(?::\d+)?)",
    r"(?P<host>[^\s()]+) kept failing; gave up after several retries",
)
_PATTERN = re.compile("|".join(p.replace("?P<host>", f"?P<h{i}>") for i, p in enumerate(_UNREACHABLE)))
_STORAGE_FAILED = "the storage service failed"


def _host_of(match: re.Match[str]) -> str:
    return next(v for k, v in match.groupdict().items() if v is not None)


def server_host(server_url: str) -> str:
    return urlsplit(server_url).netloc.lower()


def classify(message: str, server_url: str) -> str | None:
    """``offline``, ``storage`` or ``None`` (not an outage) for one error message."""
    if _STORAGE_FAILED in message:
        return STORAGE
    match = _PATTERN.search(message)
    if match is None:
        return None
    return OFFLINE if _host_of(match).lower() == server_host(server_url) else STORAGE


def for_user(message: str, server_url: str) -> str:
    """``message`` with an unreachable storage address replaced by words naming the configured server."""

    def replace(match: re.Match[str]) -> str:
        if _host_of(match).lower() == server_host(server_url):
            return match.group(0)
        return f"the storage of {server_url} cannot be reached"

    text = _PATTERN.sub(replace, message)
    return text[:1].upper() + text[1:] if text.startswith("the storage of") else text


class RetryWatcher(logging.Handler):
    """Calls ``on_outage(kind)`` (from any thread) when the client retries after an outage-like failure.

    Installed on the client's logger by :meth:`install`; :meth:`remove` takes it away again.
    """

    LOGGER = "gsdesktop.datamanager.client"

    def __init__(self, server_url: str, on_outage: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.server_url = server_url
        self.on_outage = on_outage
        self._old_level = logging.NOTSET
        self._installed = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken record must never break a transfer
            return
        if text.startswith("retrying after:") and (kind := classify(text, self.server_url)) is not None:
            try:
                self.on_outage(kind)
            except RuntimeError:  # the receiver was deleted during shutdown
                pass

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        logger = logging.getLogger(self.LOGGER)
        self._old_level = logger.level
        root = logging.getLogger()
        for h in root.handlers:  # consoles keep showing what they showed (warnings), not these lines
            if h.level == logging.NOTSET:
                h.setLevel(root.getEffectiveLevel())
        if not logger.isEnabledFor(logging.INFO):
            logger.setLevel(logging.INFO)
        logger.addHandler(self)

    def remove(self) -> None:
        if not self._installed:
            return
        self._installed = False
        logger = logging.getLogger(self.LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._old_level)
