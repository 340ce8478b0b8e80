"""The one error hierarchy of the client library.

Every failure that leaves :mod:`gsdesktop.datamanager` is a :class:`GSError`. Each carries a
user-facing ``message``, the ``paths`` involved and ``retryable`` (whether trying again later may
succeed). ``requests``/``urllib3`` exceptions never escape this package.
"""

from __future__ import annotations

from collections.abc import Sequence


class GSError(Exception):
    """Root of all client-library errors."""

    retryable: bool = False
    title: str = "GenomeSpace error"

    def __init__(
        self,
        message: str,
        *,
        paths: Sequence[str] = (),
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.paths = tuple(paths)
        self.status = status
        if retryable is not None:
            self.retryable = retryable

    @property
    def user_message(self) -> str:
        """The message, the paths involved, and any notes added on the way up (``add_note``)."""
        return " ".join([str(self), *getattr(self, "__notes__", ())])

    def __str__(self) -> str:  # without the notes: a traceback prints those on lines of their own
        return f"{self.message} ({', '.join(self.paths)})" if self.paths else self.message


class AuthenticationError(GSError):
    """Bad credentials, expired token that could not be renewed, no credentials available."""

    title = "Sign-in failed"


class CredentialsUnavailableError(AuthenticationError):
    """No password in the keyring / environment and no way to ask for one."""


class NotFoundError(GSError):
    title = "Not found"


class PermissionDeniedError(GSError):
    title = "Permission denied"


class ConflictError(GSError):
    """The target exists, or a folder is not empty."""

    title = "Conflict"


class PreconditionFailed(ConflictError):
    """A conditional upload lost its precondition: the server's version is no longer the one the
    upload was based on (``If-Match``), or the name exists after all (``If-None-Match``). Nothing was
    replaced; the caller decides what to do with both versions."""

    title = "Changed on the server"


class InvalidRequestError(GSError):
    """The server rejected the request as malformed (bad name, missing parameter)."""

    title = "Invalid request"


class ServerError(GSError):
    """5xx or an unparseable answer from the server."""

    title = "Server error"
    retryable = True


class NetworkError(GSError):
    """Connection refused/reset, DNS failure, timeout."""

    title = "Network error"
    retryable = True


class TransferError(GSError):
    """An upload or download failed part way (storage rejected it, connection broke)."""

    title = "Transfer failed"
    retryable = True


class IntegrityError(TransferError):
    """Downloaded/uploaded bytes do not match the expected MD5 or size."""

    title = "Integrity check failed"


class LocalFileError(GSError):
    """A local file system problem (disk full, permission, file vanished)."""

    title = "Local file error"


class CancelledError(GSError):
    """The caller cancelled the operation."""

    title = "Cancelled"


class SettingError(GSError):
    """A setting (an environment variable, an option) has a value the client cannot use."""

    title = "Setting not valid"


class UnsupportedError(GSError):
    """The server does not offer this operation (e.g. multipart, move)."""

    title = "Not supported"


class StoreFailingError(ServerError):
    """Storage answered the same 5xx to several different files in a row: further transfers of this
    run fail at once (see :mod:`gsdesktop.datamanager.breaker`)."""

    title = "Storage is failing"
    retryable = False
