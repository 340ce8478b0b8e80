"""Client side of refget loading: send a local FASTA to the server, or index a Data Manager file.

No S3 credentials ever leave the server: a local FASTA is streamed as the body of
``POST /refget/load`` (``.gz`` sent as is, the server decompresses); a FASTA already in the Data
Manager is indexed inside the server with ``POST /refget/index?path=...``. Both use the signed-in
:class:`~gsdesktop.datamanager.client.DataManagerClient` session.

The remote browser's "Serve via refget" calls :func:`index_remote`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gsdesktop.datamanager.errors import LocalFileError, NotFoundError, ServerError

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

#: (connect, read) timeouts for loads: the answer comes after the whole FASTA is digested and stored.
LOAD_TIMEOUT: tuple[float, float] = (10.0, 3600.0)
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".faa", ".ffn", ".frn", ".fas", ".mfa", ".seq")


def is_fasta_name(name: str) -> bool:
    """Whether a file name looks like FASTA (``.fa/.fasta/.fna`` …, optionally ``.gz``)."""
    low = name.lower().removesuffix(".gz").removesuffix(".bgz")
    return low.endswith(FASTA_SUFFIXES)


@dataclass(frozen=True, slots=True)
class SequenceIds:
    """The refget identifiers of one loaded sequence."""

    name: str
    md5: str
    trunc512: str
    ga4gh: str
    length: int
    circular: bool = False

    def url(self, server_url: str) -> str:
        """The refget URL of the sequence on ``server_url``."""
        return f"{server_url.rstrip('/')}/sequence/{self.md5}"


@dataclass(frozen=True, slots=True)
class RefgetIds:
    """What one load produced: every sequence's ids and how many objects the server wrote."""

    source: str
    sequences: list[SequenceIds] = field(default_factory=list)
    objects_written: int = 0
    #: Set by :func:`indexed_ids`: when the file was indexed, its MD5 then and now, and whether it
    #: changed (or disappeared) since.
    indexed_at: str | None = None
    indexed_md5: str | None = None
    current_md5: str | None = None
    changed: bool = False
    exists: bool = True

    @classmethod
    def from_json(cls, data: Any) -> RefgetIds:
        try:
            seqs = [
                SequenceIds(
                    name=str(s["name"]), md5=str(s["md5"]), trunc512=str(s["trunc512"]),
                    ga4gh=str(s["ga4gh"]), length=int(s["length"]), circular=bool(s.get("circular", False)),
                )
                for s in data["sequences"]
            ]  # fmt: skip
            return cls(
                str(data.get("source", "")), seqs, int(data.get("objects_written", 0)),
                indexed_at=_opt_str(data.get("indexed_at")), indexed_md5=_opt_str(data.get("indexed_md5")),
                current_md5=_opt_str(data.get("current_md5")), changed=bool(data.get("changed", False)),
                exists=bool(data.get("exists", True)),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ServerError(f"unexpected refget load answer from the server: {exc}") from exc

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "objects_written": self.objects_written,
            "sequences": [
                {"name": s.name, "md5": s.md5, "trunc512": s.trunc512, "ga4gh": s.ga4gh, "length": s.length,
                 "circular": s.circular}
                for s in self.sequences
            ],
        }  # fmt: skip


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


class _ProgressReader:
    """A file object wrapper reporting bytes read (requests streams it with a Content-Length)."""

    def __init__(self, path: Path, progress: Callable[[int, int], None] | None) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._total = os.fstat(self._fh.fileno()).st_size
        self._done = 0
        self._progress = progress

    def __len__(self) -> int:
        return self._total

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(max(size, 1 << 20) if size and size > 0 else -1)
        self._done += len(data)
        if self._progress is not None:
            self._progress(self._done, self._total)
        return data

    def close(self) -> None:
        self._fh.close()


def _ensure_session(client: DataManagerClient) -> None:
    """Renew the session now (cheap GET), so the streamed body is never sent with a stale token."""
    client.request("GET", "/refget/whoami", action="refget").close()


def load_local(
    client: DataManagerClient,
    path: Path,
    circular: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> RefgetIds:
    """Stream a local FASTA (``.gz`` accepted) to the server's refget loader.

    Raises:
        LocalFileError: the file cannot be read.
        InvalidRequestError: malformed FASTA (the message names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise LocalFileError(f"no such FASTA file: {path}", paths=[str(path)])
    _ensure_session(client)
    try:
        reader = _ProgressReader(path, progress)
    except OSError as exc:
        raise LocalFileError(f"cannot read {path}: {exc.strerror or exc}", paths=[str(path)]) from exc
    try:
        resp = client.request(
            "POST",
            "/refget/load",
            params={"name": path.name, "circular": list(circular)},
            data=reader,
            headers={"Content-Type": "application/octet-stream"},
            paths=[str(path)],
            action="refget load",
            timeout=LOAD_TIMEOUT,
        )
    finally:
        reader.close()
    with resp:
        return RefgetIds.from_json(resp.json())


def index_remote(client: DataManagerClient, path: str, circular: Iterable[str] = ()) -> RefgetIds:
    """Make a FASTA already in the Data Manager (``/users/<me>/refs/x.fa``) servable via refget.

    The server reads the file from its own store; nothing is downloaded.

    Raises:
        NotFoundError / PermissionDeniedError: no such file, or not in your folder.
        InvalidRequestError: malformed FASTA (the message names the line).
    """
    resp = client.request(
        "POST",
        "/refget/index",
        params={"path": path, "circular": list(circular)},
        paths=[path],
        action="refget index",
        timeout=LOAD_TIMEOUT,
    )
    with resp:
        return RefgetIds.from_json(resp.json())


def indexed_ids(client: DataManagerClient, path: str) -> RefgetIds | None:
    """The refget ids of a Data Manager file indexed earlier (by the browser or ``refget load``).

    Returns:
        The ids (with ``changed`` set when the file differs from what was indexed), or None when the
        file was never indexed.

    Raises:
        PermissionDeniedError: not a path in your folder.
    """
    try:
        resp = client.request(
            "GET", "/refget/indexed", params={"path": path}, paths=[path], action="refget ids"
        )
    except NotFoundError:
        return None
    with resp:
        return RefgetIds.from_json(resp.json())


def sequence_url(server_url: str, ident: str) -> str:
    """``<server>/sequence/<id>`` (the form htslib's ``REF_PATH`` wants with ``%s``)."""
    return f"{server_url.rstrip('/')}/sequence/{quote(ident, safe=':')}"
