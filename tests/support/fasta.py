"""Deterministic FASTA test data."""

from __future__ import annotations

import random


def random_seq(n: int, seed: int) -> bytes:
    """``n`` random bases (ACGT), the same for the same seed."""
    rng = random.Random(seed)
    return bytes(rng.choice(b"ACGT") for _ in range(n))


def fasta_bytes(records: dict[str, bytes], width: int = 60) -> bytes:
    """A FASTA file of ``records`` (name -> sequence), lines of ``width`` bases."""
    out = []
    for name, seq in records.items():
        out.append(b">" + name.encode() + b"\n")
        out.extend(seq[i : i + width] + b"\n" for i in range(0, len(seq), width))
    return b"".join(out)
