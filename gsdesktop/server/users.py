"""Accounts and tokens, kept in the S3 store so every server replica shares them.

* users: one JSON object per account under ``.gsdm/users/<name>.json`` holding an scrypt hash and a
  random *generation* stamp that changes on every password change;
* the token-signing secret: ``.gsdm/secret``, created once (conditional write, so concurrent replicas
  agree on one value);
* tokens: :class:`itsdangerous.URLSafeTimedSerializer` over ``{"u": name, "g": generation}``, expiring
  after ``token_ttl`` seconds. Changing the password or removing the account changes/removes the
  generation, which invalidates every earlier token.

User records are cached for at most ``cache_seconds`` (2 s); misses are never cached, so an account
added by ``gsdesktop server add-user`` is accepted at once by every running replica.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gsdesktop.server.paths import validate_username
from gsdesktop.server.storage import S3Store

USERS_PREFIX = ".gsdm/users/"
SECRET_KEY = ".gsdm/secret"
DEFAULT_TOKEN_TTL = 24 * 3600
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_PASSWORD_BYTES = 1024
MAXMEM = 64 * 1024 * 1024


class UserError(ValueError):
    """An account operation that cannot be done (exists already, unknown user, bad password...)."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A verified token: whose, and how many seconds it has left."""

    username: str
    remaining: float


def _hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=MAXMEM, dklen=32
    )
    return {
        "alg": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode(),
        "hash": base64.b64encode(digest).decode(),
    }


def _check_password(password: str, rec: dict[str, Any]) -> bool:
    try:
        salt = base64.b64decode(rec["salt"])
        expected = base64.b64decode(rec["hash"])
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(rec["n"]),
            r=int(rec["r"]),
            p=int(rec["p"]),
            maxmem=MAXMEM,
            dklen=len(expected),
        )
    except (KeyError, ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def _check_password_text(password: str) -> None:
    if not password:
        raise UserError("the password must not be empty")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise UserError(f"the password is longer than {MAX_PASSWORD_BYTES} bytes")


@functools.cache
def _dummy_hash() -> dict[str, Any]:
    return _hash_password("not-a-password")


class UserStore:
    """Accounts, passwords and tokens in the shared store."""

    def __init__(
        self, store: S3Store, *, token_ttl: int = DEFAULT_TOKEN_TTL, cache_seconds: float = 2.0
    ) -> None:
        self.store = store
        self.token_ttl = int(token_ttl)
        self.cache_seconds = min(float(cache_seconds), 2.0)
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._serializer: URLSafeTimedSerializer | None = None
        self._memo_key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, bytes], str] = {}

    # -- records ------------------------------------------------------------------------------------------
    @staticmethod
    def _key(name: str) -> str:
        return f"{USERS_PREFIX}{name}.json"

    def _load(self, name: str, *, fresh: bool = False) -> dict[str, Any] | None:
        now = time.monotonic()
        if not fresh:
            with self._lock:
                hit = self._cache.get(name)
            if hit and now - hit[0] < self.cache_seconds:
                return hit[1]
        raw = self.store.get_bytes(self._key(name))
        if raw is None:
            with self._lock:
                self._cache.pop(name, None)
            return None
        rec: dict[str, Any] = json.loads(raw)
        with self._lock:
            self._cache[name] = (now, rec)
        return rec

    def _save(self, rec: dict[str, Any], *, create: bool) -> bool:
        data = json.dumps(rec, sort_keys=True).encode()
        ok = self.store.put_bytes(
            self._key(rec["name"]), data, content_type="application/json", if_none_match=create
        )
        with self._lock:
            self._cache.pop(rec["name"], None)
        return ok

    def exists(self, name: str) -> bool:
        try:
            validate_username(name)
        except ValueError:
            return False
        return self._load(name) is not None

    def list_users(self) -> list[str]:
        objects, _ = self.store.list_all(USERS_PREFIX, delimiter=None)
        return sorted(o.key[len(USERS_PREFIX) : -len(".json")] for o in objects if o.key.endswith(".json"))

    def add(self, name: str, password: str) -> None:
        """Create an account and its (empty) home folder.

        Raises:
            UserError: invalid name or password, or the account exists already.
        """
        try:
            validate_username(name)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        if name.lower() == "public":
            raise UserError("the name 'Public' is reserved (the folder of public items)")
        _check_password_text(password)
        rec = {
            "name": name,
            "password": _hash_password(password),
            "generation": secrets.token_hex(8),
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self._load(name, fresh=True) is not None or not self._save(rec, create=True):
            raise UserError(f"user {name!r} already exists")
        home = f"users/{name}/"
        if self.store.head(home) is None:
            self.store.put_bytes(home, b"", content_type="application/x-directory")

    def remove(self, name: str) -> None:
        """Delete the account (its files stay in the store); its tokens stop working at once."""
        if self._load(name, fresh=True) is None:
            raise UserError(f"no such user: {name!r}")
        self.store.delete(self._key(name))
        with self._lock:
            self._cache.pop(name, None)

    def set_password(self, name: str, password: str) -> None:
        """Change the password; tokens issued before stop working."""
        _check_password_text(password)
        rec = self._load(name, fresh=True)
        if rec is None:
            raise UserError(f"no such user: {name!r}")
        rec = {**rec, "password": _hash_password(password), "generation": secrets.token_hex(8)}
        self._save(rec, create=False)

    def verify(self, name: str, password: str) -> bool:
        """True when ``password`` is the account's password.

        The record is always read fresh, so logins see passwd/remove-user at once. A successful check
        is remembered in memory (keyed by an HMAC of the password under a per-process key, tied to the
        record's generation), so clients that send Basic credentials on every request do not pay an
        scrypt each time. Unknown users cost one dummy scrypt, so timing does not reveal them.
        """
        if not password or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            return False
        try:
            validate_username(name)
        except ValueError:
            return False
        rec = self._load(name, fresh=True)
        if rec is None:
            _check_password(password, _dummy_hash())
            return False
        digest = hmac.new(self._memo_key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        generation = str(rec.get("generation", ""))
        with self._lock:
            if self._verified.get((name, digest)) == generation:
                return True
        if not _check_password(password, rec.get("password", {})):
            return False
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[(name, digest)] = generation
        return True

    def verify_known(self, name: str, password: str) -> bool:
        """True when this process verified ``password`` for ``name`` before (and it is still current).

        No scrypt, and no store read unless the password was verified before (then the record is read
        fresh, as in :meth:`verify`, so passwd/remove-user apply at once): the throttle lets such logins
        through, so a signed-in client is not locked out by someone guessing its password.
        """
        digest = hmac.new(self._memo_key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            generation = self._verified.get((name, digest))
        if generation is None:
            return False
        rec = self._load(name, fresh=True)
        return rec is not None and str(rec.get("generation", "")) == generation

    # -- tokens -------------------------------------------------------------------------------------------
    def _secret(self) -> bytes:
        raw = self.store.get_bytes(SECRET_KEY)
        if raw is None:
            candidate = secrets.token_urlsafe(48).encode()
            self.store.put_bytes(SECRET_KEY, candidate, content_type="text/plain", if_none_match=True)
            raw = self.store.get_bytes(SECRET_KEY)  # whoever won the race, use the stored value
            if raw is None:
                raise RuntimeError("the token secret could not be stored")
        return raw.strip()

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(self._secret(), salt="gs-token")
        return self._serializer

    def issue_token(self, name: str) -> str:
        rec = self._load(name)
        if rec is None:
            raise UserError(f"no such user: {name!r}")
        return str(self.serializer.dumps({"u": name, "g": rec["generation"]}))

    def check_token(self, token: str | None) -> TokenInfo | None:
        """The token's owner and remaining lifetime, or ``None`` if invalid, expired or revoked."""
        if not token or len(token) > 4096:
            return None
        try:
            payload, signed_at = self.serializer.loads(token, max_age=self.token_ttl, return_timestamp=True)
        except (BadSignature, SignatureExpired, ValueError, TypeError):
            return None
        if not isinstance(payload, dict):
            return None
        name, gen = payload.get("u"), payload.get("g")
        if not isinstance(name, str) or not isinstance(gen, str):
            return None
        rec = self._load(name)
        if rec is None or not hmac.compare_digest(str(rec.get("generation", "")), gen):
            return None
        age = (datetime.now(UTC) - signed_at).total_seconds()
        return TokenInfo(name, max(0.0, self.token_ttl - age))
