"""A real SeaweedFS cluster on loopback: 1 master, 2 volume servers, a filer and the S3 gateway.

The commands are the ones README's "A SeaweedFS cluster and two replicas" recipe gives (with free ports
instead of the defaults), so the test that runs this runs the recipe.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from gsdesktop.server.seaweed import S3Config, find_weed, free_port


@dataclass
class SeaweedCluster:
    root: Path
    replication: str = "001"  # every file on two volume servers
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def command(self, name: str) -> list[str]:
        weed, p, r = find_weed(), self.ports, self.root
        master = f"127.0.0.1:{p['master']}"
        common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        return {
            "master": [weed, "master", *common, f"-port={p['master']}", f"-mdir={r / 'master'}",
                       f"-defaultReplication={self.replication}", "-volumeSizeLimitMB=64"],
            "volume1": [weed, "volume", *common, f"-port={p['volume1']}", f"-dir={r / 'v1'}",
                        f"-mserver={master}", "-max=20"],
            "volume2": [weed, "volume", *common, f"-port={p['volume2']}", f"-dir={r / 'v2'}",
                        f"-mserver={master}", "-max=20"],
            "filer": [weed, "filer", *common, f"-port={p['filer']}", f"-master={master}"],
            "s3": [weed, "s3", "-ip.bind=127.0.0.1", f"-port={p['s3']}", f"-filer=127.0.0.1:{p['filer']}",
                   f"-config={r / 's3.json'}"],
        }[name]  # fmt: skip

    def start(self, timeout: float = 90) -> S3Config:
        for name in ("master", "volume1", "volume2", "filer", "s3"):
            self.ports[name] = free_port(with_grpc=True)
        for sub in ("master", "v1", "v2", "filer"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        access, secret = "gsdm" + secrets.token_hex(6), secrets.token_urlsafe(24)
        ident = {"name": "gsdm", "credentials": [{"accessKey": access, "secretKey": secret}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}  # fmt: skip
        identities = {"identities": [ident]}
        (self.root / "s3.json").write_text(json.dumps(identities))
        for name in ("master", "volume1", "volume2", "filer", "s3"):
            self.launch(name)
            if name == "master":
                self._wait_http(f"http://127.0.0.1:{self.ports['master']}/cluster/status", timeout)
        cfg = S3Config(endpoint=f"http://127.0.0.1:{self.ports['s3']}", bucket="gsdm-cluster",
                       access_key=access, secret_key=secret)  # fmt: skip
        self._wait_bucket(cfg, timeout)
        return cfg

    def launch(self, name: str) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115
        self.procs[name] = subprocess.Popen(
            self.command(name), stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        log.close()

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.kill(name)

    def _wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code < 500:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer; logs in {self.root}")

    def _wait_bucket(self, cfg: S3Config, timeout: float) -> None:
        """Until a write is stored with its replica (the volume servers register with the master first)."""
        s3 = boto3.client("s3", endpoint_url=cfg.endpoint, aws_access_key_id=cfg.access_key,
                          aws_secret_access_key=cfg.secret_key, region_name=cfg.region,
                          config=Config(retries={"max_attempts": 1}, connect_timeout=3,
                                        read_timeout=10))  # fmt: skip
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                    s3.create_bucket(Bucket=cfg.bucket)
                s3.put_object(Bucket=cfg.bucket, Key=".probe", Body=b"x")
                s3.delete_object(Bucket=cfg.bucket, Key=".probe")
                return
            except Exception as exc:  # the cluster is still assembling
                last = exc
                time.sleep(0.5)
        raise TimeoutError(f"the cluster did not take a write: {last}; logs in {self.root}")
