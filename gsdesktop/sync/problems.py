"""One error vocabulary for sync: :func:`classify` turns an exception into a :class:`Classification`
(problem kind, scope, retry), for the executor (an exception while syncing one file) and the engine (an
exception outside any file: listing the remote folder, creating it) alike.

The rule is *per file unless truly global*: only an unreachable server or storage and rejected
credentials stop the whole pair (:attr:`Scope.PAIR`); everything else (a server error, a refused
request, a local I/O error, a bug around one file) is the problem of the file it happened to, retried
with backoff, while the other files go on. When such a per-file error happens where no file is concerned
(the listing), it is recorded against the pair (path ``""``) with the same kind and retry.

The rules are an ordered table (:data:`RULES`): the first rule whose exception type (and test, when it
has one) matches decides. A new kind of problem is one more :class:`Rule` ahead of the general ones.

Problems travel from the executor to the engine as :data:`ProblemUpdate` values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from gsdesktop.datamanager.errors import (
    AuthenticationError,
    GSError,
    IntegrityError,
    InvalidRequestError,
    NetworkError,
    PermissionDeniedError,
)
from gsdesktop.sync.events import ProblemKind
from gsdesktop.sync.shares import NoAccess
from gsdesktop.sync.throttle import about_name


class Offline(Exception):
    """The server is unreachable: stop the cycle, go OFFLINE, retry later."""


class AuthFailed(Exception):
    """Credentials were rejected: stop the cycle."""


class Scope(Enum):
    FILE = "file"  # the file it happened to; the others go on
    PAIR = "pair"  # the whole pair: the cycle stops


class Retry(Enum):
    """When a problem is retried automatically."""

    NEVER = "never"  # not until something changes (a rename, new credentials, the server back)
    SOON = "soon"  # in about a second (a file still changing)
    BACKOFF = "backoff"  # after the pair's retry base, growing with each attempt


SOON_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Classification:
    """What an exception means for sync. ``retry``: the base delay in seconds of the automatic retry
    (it grows with the attempts, see :func:`gsdesktop.sync.state.backoff_delay`); None: none."""

    kind: ProblemKind
    scope: Scope
    retry: float | None


@dataclass(frozen=True, slots=True)
class Rule:
    """Exceptions of ``types`` (for which ``test`` holds, when given) are problems of ``kind``."""

    types: tuple[type[BaseException], ...]
    kind: ProblemKind
    scope: Scope
    retry: Retry
    test: Callable[[BaseException], bool] | None = None


def _names_a_refused_name(exc: BaseException) -> bool:
    return isinstance(exc, InvalidRequestError) and about_name(exc)


RULES: tuple[Rule, ...] = (
    Rule((Offline, NetworkError), ProblemKind.OFFLINE, Scope.PAIR, Retry.NEVER),
    Rule((AuthFailed, AuthenticationError), ProblemKind.AUTH, Scope.PAIR, Retry.NEVER),
    # a share revoked (or its folder deleted by its owner) under the pair: stop, keep every local file
    Rule((NoAccess, PermissionDeniedError), ProblemKind.NO_ACCESS, Scope.PAIR, Retry.NEVER),
    Rule((IntegrityError,), ProblemKind.CHANGING, Scope.FILE, Retry.SOON),
    Rule((InvalidRequestError,), ProblemKind.BAD_NAME, Scope.FILE, Retry.NEVER, _names_a_refused_name),
    Rule((GSError, OSError), ProblemKind.FILE_ERROR, Scope.FILE, Retry.BACKOFF),
    Rule((Exception,), ProblemKind.FILE_ERROR, Scope.FILE, Retry.BACKOFF),  # a bug around one file
)


def classify(exc: BaseException, retry_base: float = 10.0, rules: tuple[Rule, ...] = RULES) -> Classification:
    """The problem ``exc`` is: kind, scope and the base delay of its automatic retry."""
    for rule in rules:
        if isinstance(exc, rule.types) and (rule.test is None or rule.test(exc)):
            retry = {Retry.NEVER: None, Retry.SOON: SOON_SECONDS, Retry.BACKOFF: retry_base}[rule.retry]
            return Classification(rule.kind, rule.scope, retry)
    return Classification(ProblemKind.FATAL, Scope.PAIR, None)  # (a BaseException no rule covers)


def expected(exc: BaseException) -> bool:
    """Whether ``exc`` is an error sync expects (the server's, the network's, the file system's), as
    opposed to a bug (whose traceback belongs in the log)."""
    return isinstance(exc, GSError | OSError | Offline | AuthFailed)


def describe(exc: BaseException) -> str:
    """The user-facing text of ``exc``."""
    if isinstance(exc, GSError):
        return exc.user_message
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


@dataclass(frozen=True, slots=True)
class ProblemRaised:
    """``path`` (relative to the sync root) failed: record it, retried after ``retry`` seconds (the
    base delay; None: not retried automatically)."""

    path: str
    kind: ProblemKind
    message: str
    retry: float | None


@dataclass(frozen=True, slots=True)
class ProblemCleared:
    """``path`` went through: the problem it had is resolved."""

    path: str


ProblemUpdate = ProblemRaised | ProblemCleared
