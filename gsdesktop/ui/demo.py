"""The demo: its account, its sample files and where its data lives (used by ``gsdesktop demo`` and the
first-run wizard's "local demo server" choice; the server is the embedded one, on loopback only)."""

from __future__ import annotations

import logging
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"  # a loopback-only demo server; never used for a real account


def demo_files(seed: int = 7) -> dict[str, bytes]:
    """Small, realistic sample files: a FASTA, a GCT expression table and a BED file."""
    rng = random.Random(seed)
    seq = "".join(rng.choice("ACGT") for _ in range(1200))
    fasta = ">chrDemo demo contig\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n"
    genes = ["TP53", "BRCA1", "EGFR", "MYC", "KRAS", "PTEN", "GAPDH", "ACTB"]
    samples = ["tumor_1", "tumor_2", "normal_1", "normal_2"]
    gct = ["#1.2", f"{len(genes)}\t{len(samples)}", "Name\tDescription\t" + "\t".join(samples)]
    for g in genes:
        gct.append(f"{g}\t{g} expression\t" + "\t".join(f"{rng.uniform(1, 500):.2f}" for _ in samples))
    bed = ['track name=demo description="Demo peaks"']
    start = 100
    for i in range(12):
        start += rng.randint(20, 80)
        bed.append(
            f"chrDemo\t{start}\t{start + rng.randint(10, 60)}\tpeak{i + 1}\t{rng.randint(100, 1000)}\t+"
        )
    return {
        "demo-contig.fa": fasta.encode(),
        "expression.gct": ("\n".join(gct) + "\n").encode(),
        "peaks.bed": ("\n".join(bed) + "\n").encode(),
    }


def seed_demo(client: DataManagerClient, folder: str) -> list[str]:
    """Upload the demo files into ``folder`` unless they are already there; returns uploaded paths."""
    client.mkdir(folder, parents=True)
    present = {m.name for m in client.list(folder).contents}
    uploaded = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in demo_files().items():
            if name in present:
                continue
            local = Path(tmp) / name
            local.write_bytes(data)
            client.upload(local, f"{folder}/{name}")
            uploaded.append(f"{folder}/{name}")
    return uploaded


def demo_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("gsdesktop", appauthor=False)) / "demo"


DEMO_PORT_FILE = "demo-port"


def saved_demo_port(data_dir: Path) -> int | None:
    """The port the demo server had last time: the same address keeps the sync state and interrupted
    transfers (both remembered per server address) of the last run."""
    try:
        port = int((data_dir / DEMO_PORT_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return port if 1024 <= port <= 65535 else None


def save_demo_port(data_dir: Path, url: str) -> None:
    """Remember the port of the demo server at ``url`` for the next run (see :func:`saved_demo_port`)."""
    from urllib.parse import urlsplit

    try:
        (data_dir / DEMO_PORT_FILE).write_text(f"{urlsplit(url).port}\n", encoding="utf-8")
    except OSError as exc:
        log.warning("could not remember the demo port: %s", exc)
