"""``put``/``get`` planning and parallel execution with aggregated progress and cancellation."""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from gsdesktop.cli.progress import ProgressBar
from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import (
    CancelledError,
    GSError,
    InvalidRequestError,
    LocalFileError,
    StoreFailingError,
)
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.transfer import CancelToken, ProgressAggregator, ProgressCallback


@dataclass(frozen=True)
class Job:
    """One file to move: ``local`` <-> ``remote`` (``size`` for progress)."""

    local: Path
    remote: str
    size: int


@dataclass
class Plan:
    """Folders to create first, then files to transfer."""

    dirs: list[str] = field(default_factory=list)  # remote folders (put) or local folders (get)
    jobs: list[Job] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(j.size for j in self.jobs)


@dataclass
class Outcome:
    done: list[Job] = field(default_factory=list)
    failed: list[tuple[Job | None, GSError]] = field(default_factory=list)
    cancelled: bool = False
    kept: list[str] = field(default_factory=list)  # what cancelled transfers keep for the next run


def _remote_is_dir(client: DataManagerClient, path: str) -> bool | None:
    """True folder / False file / None missing."""
    from gsdesktop.datamanager.errors import NotFoundError

    try:
        return client.metadata(path).is_directory
    except NotFoundError:
        return None


def plan_put(
    client: DataManagerClient, sources: list[Path], dest: str, recursive: bool, *, into_folder: bool = False
) -> Plan:
    """Map local files/trees to remote paths (``cp`` rules: into ``dest`` if it is a folder).

    ``into_folder`` (the user wrote a trailing ``/``) puts the sources inside ``dest``, creating it.
    """
    dest_state = _remote_is_dir(client, dest)
    if into_folder and dest_state is None:
        client.mkdir(dest, parents=True)
        dest_state = True
    if dest_state is False and into_folder:
        raise InvalidRequestError("The destination is a file, not a folder", paths=[dest])
    into = dest_state is True or len(sources) > 1
    if len(sources) > 1 and dest_state is not True:
        raise InvalidRequestError(
            "With several sources the destination must be an existing folder", paths=[dest]
        )
    plan = Plan()
    for src in sources:
        try:
            st = src.stat()
        except OSError as exc:
            raise LocalFileError(f"Cannot read: {exc.strerror or exc}", paths=[str(src)]) from exc
        name = src.resolve().name if src.name in ("", ".", "..") else src.name
        target = P.join(dest, name) if into else dest
        if stat.S_ISDIR(st.st_mode):
            if not recursive:
                raise InvalidRequestError("Is a folder (use -r to copy folders)", paths=[str(src)])
            plan.dirs.append(target)
            for root, dirnames, filenames in os.walk(src):
                dirnames.sort()
                rel = Path(root).relative_to(src)
                remote_root = target if str(rel) == "." else P.join(target, *rel.parts)
                for d in dirnames:
                    if (Path(root) / d).is_symlink():
                        continue  # never follow folder links (loops)
                    plan.dirs.append(P.join(remote_root, d))
                for f in sorted(filenames):
                    p = Path(root) / f
                    try:
                        fst = p.stat()
                    except OSError:
                        continue  # dangling link
                    if stat.S_ISREG(fst.st_mode):
                        plan.jobs.append(Job(p, P.join(remote_root, f), fst.st_size))
        elif stat.S_ISREG(st.st_mode):
            plan.jobs.append(Job(src, target, st.st_size))
        else:
            raise LocalFileError("Not a regular file or folder", paths=[str(src)])
    return plan


def plan_get(client: DataManagerClient, src: str, dest: Path, recursive: bool) -> Plan:
    """Map a remote file/tree to local paths (into ``dest`` if it is an existing folder)."""
    meta = client.metadata(src)
    target = dest / P.basename(src) if dest.is_dir() else dest
    plan = Plan()
    if not meta.is_directory:
        plan.jobs.append(Job(target, src, meta.size or 0))
        return plan
    if not recursive:
        raise InvalidRequestError("Is a folder (use -r to copy folders)", paths=[src])
    plan.dirs.append(str(target))
    prefix = src.rstrip("/") + "/"
    entries: list[GSFileMetadata] = client.list_recursive(src)
    for m in entries:
        rel = m.path[len(prefix) :] if m.path.startswith(prefix) else None
        if not rel or any(part in ("", ".", "..") for part in rel.split("/")):
            continue  # never write outside the target folder
        local = target.joinpath(*rel.split("/"))
        if m.is_directory:
            plan.dirs.append(str(local))
        else:
            plan.jobs.append(Job(local, m.path, m.size or 0))
    return plan


def run_jobs(
    jobs: list[Job],
    work: Callable[[Job, ProgressCallback, CancelToken], object],
    *,
    label: str,
    workers: int,
    show_progress: bool,
    on_done: Callable[[Job], None],
    on_error: Callable[[Job, GSError], None],
) -> Outcome:
    """Run ``work`` for every job on a thread pool; Ctrl-C cancels every running transfer.

    When storage fails everything (:class:`StoreFailingError`) that is reported once and the jobs not
    yet started are not tried."""
    outcome = Outcome()
    total = sum(j.size for j in jobs)
    bar = ProgressBar(label, len(jobs), enabled=show_progress and sys.stderr.isatty())
    agg = ProgressAggregator(bar.update, total)
    cancel = CancelToken()
    lock = threading.Lock()

    def one(job: Job) -> None:
        work(job, agg.child(), cancel)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="gs-xfer")
    futures: dict[Future[None], Job] = {}
    store_failing: list[StoreFailingError] = []
    try:
        futures = {pool.submit(one, job): job for job in jobs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = futures[fut]
                exc = fut.exception()
                with lock:
                    if exc is None:
                        outcome.done.append(job)
                        bar.file_done()
                        on_done(job)
                    elif isinstance(exc, CancelledError):
                        outcome.cancelled = True
                    elif isinstance(exc, StoreFailingError):
                        outcome.failed.append((job, exc))
                        if not store_failing:
                            store_failing.append(exc)
                            on_error(job, exc)
                            for other in pending:
                                if other.cancel():  # not started yet: not tried, fails with the same
                                    outcome.failed.append((futures[other], exc))
                            pending = {f for f in pending if not f.cancelled()}
                    elif isinstance(exc, GSError):
                        outcome.failed.append((job, exc))
                        on_error(job, exc)
                    else:
                        err = GSError(f"Unexpected error: {exc}", paths=[job.remote])
                        outcome.failed.append((job, err))
                        on_error(job, err)
    except KeyboardInterrupt:
        cancel.cancel()
        outcome.cancelled = True
        for fut in futures:
            fut.cancel()
    finally:
        pool.shutdown(wait=True)
        agg.finish()
        bar.close()
    for fut in futures:  # what cancelled transfers keep for the next run (a multipart upload's parts)
        exc = fut.exception() if fut.done() and not fut.cancelled() else None
        if isinstance(exc, CancelledError) and getattr(exc, "__notes__", None):
            outcome.kept.append(exc.user_message)
    return outcome
