"""The refget router on a small FastAPI app over the real SeaweedFS store (in-process client).

Covers what the compliance suite does not: v2 ids, aliases, ambiguity, Accept lists, CORS, circular
wraps, idempotent reloads, malformed input leaving nothing behind, and that slices are ranged GETs.
"""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gsdesktop.refget.digests import compute
from gsdesktop.refget.fasta import FastaFormatError
from gsdesktop.refget.loader import load_chunks, load_file
from gsdesktop.refget.service import router
from gsdesktop.refget.store import METADATA_TYPE, SEQUENCE_TYPE, RefgetStore
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store

SEQ_V1 = "text/vnd.ga4gh.refget.v1.0.0+plain"


def _random_seq(n: int, seed: int | None = None) -> bytes:
    rng = random.Random(seed if seed is not None else secrets.randbits(32))
    return bytes(rng.choice(b"ACGT") for _ in range(n))


@pytest.fixture(scope="module")
def s3store(seaweed: S3Config) -> S3Store:
    return S3Store(seaweed)


@pytest.fixture(scope="module")
def store(s3store: S3Store) -> RefgetStore:
    return RefgetStore(s3store.s3, s3store.bucket)


@pytest.fixture(scope="module")
def client(s3store: S3Store) -> Iterator[TestClient]:
    from gsdesktop.server.throttle import LoginThrottle
    from gsdesktop.server.users import UserStore

    app = FastAPI()
    app.state.store = s3store
    app.state.users = UserStore(s3store)
    app.state.login_throttle = LoginThrottle()  # a sign-in is throttled (per replica), as in create_app
    app.include_router(router)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def loaded(store: RefgetStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A linear and a circular random sequence loaded through the loader."""
    lin, circ = _random_seq(5000, 1), _random_seq(3000, 2)
    fa = tmp_path_factory.mktemp("fa") / "svc.fa"
    fa.write_bytes(b">lin1 linear\n" + lin + b"\n>circ1 circular\n" + circ.lower() + b"\n")
    load_file(store, fa, circular=["circ1"])
    return {"lin": lin, "circ": circ, "dl": compute(lin), "dc": compute(circ)}


def test_ids_of_every_kind_resolve(client: TestClient, loaded: dict[str, Any]) -> None:
    d, lin = loaded["dl"], loaded["lin"]
    for ident in (d.md5, d.md5.upper(), "md5:" + d.md5, d.trunc512, "trunc512:" + d.trunc512, d.ga4gh,
                  "ga4gh:" + d.ga4gh, "lin1", "ucsc:lin1"):  # fmt: skip
        r = client.get(f"/sequence/{ident}", params={"start": 10, "end": 20})
        assert r.status_code == 200, ident
        assert r.content == lin[10:20]
        assert r.headers["content-length"] == "10"
    meta = client.get(f"/sequence/{d.ga4gh}/metadata")
    assert meta.status_code == 200
    assert meta.headers["content-type"].startswith("application/vnd.ga4gh.refget.v1.0.0+json")
    m = meta.json()["metadata"]
    assert (m["md5"], m["trunc512"], m["ga4gh"], m["length"]) == (d.md5, d.trunc512, d.ga4gh, 5000)
    assert {"alias": "lin1", "naming_authority": "fasta"} in m["aliases"]


def test_whole_sequence_headers_and_cors(client: TestClient, loaded: dict[str, Any]) -> None:
    r = client.get(f"/sequence/{loaded['dl'].md5}", headers={"Origin": "http://elsewhere.example"})
    assert r.status_code == 200
    assert r.content == loaded["lin"]
    assert r.headers["content-length"] == "5000"
    assert r.headers["content-type"] == SEQ_V1 + "; charset=us-ascii"
    assert r.headers["access-control-allow-origin"] == "*"
    head = client.head(f"/sequence/{loaded['dl'].ga4gh}")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "5000", b"")
    preflight = {"Origin": "http://x", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "range"}  # fmt: skip
    pre = client.options(f"/sequence/{loaded['dl'].md5}", headers=preflight)
    assert pre.status_code == 204
    assert "Range" in pre.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    ("accept", "status", "ctype"),
    [
        ("text/plain", 200, "text/plain; charset=us-ascii"),
        ("embl/some_json, text/vnd.ga4gh.refget.v1.0.0+plain; charset=us-ascii", 200, SEQ_V1),
        ("text/vnd.ga4gh.refget.v2.0.0+plain", 200, "text/vnd.ga4gh.refget.v2.0.0+plain"),
        ("text/*;q=0.5, application/json", 200, SEQ_V1),
        ("*/*", 200, SEQ_V1),
        ("embl/some_json", 406, None),
        ("application/json", 406, None),
        ("text/plain;q=0", 406, None),
    ],
)
def test_accept_negotiation(client: TestClient, loaded: dict[str, Any], accept: str, status: int,
                            ctype: str | None) -> None:  # fmt: skip
    r = client.get(f"/sequence/{loaded['dl'].md5}?start=0&end=4", headers={"Accept": accept})
    assert r.status_code == status
    if ctype:
        assert r.headers["content-type"].startswith(ctype)
        assert r.content == loaded["lin"][:4]


def test_metadata_accept(client: TestClient, loaded: dict[str, Any]) -> None:
    url = f"/sequence/{loaded['dl'].md5}/metadata"
    assert client.get(url, headers={"Accept": "application/json"}).status_code == 200
    assert client.get(url, headers={"Accept": "text/plain"}).status_code == 406
    v2 = client.get(url, headers={"Accept": "application/vnd.ga4gh.refget.v2.0.0+json"})
    assert v2.headers["content-type"].startswith("application/vnd.ga4gh.refget.v2.0.0+json")


def test_service_info_has_v1_and_v2_objects(client: TestClient) -> None:
    for path in ("/sequence/service-info", "/service-info"):
        info = client.get(path).json()
        assert info["service"]["circular_supported"] is True
        assert "md5" in info["refget"]["algorithms"]


def test_circular_and_errors(client: TestClient, loaded: dict[str, Any]) -> None:
    dc, circ, dl = loaded["dc"].md5, loaded["circ"], loaded["dl"].md5
    r = client.get(f"/sequence/{dc}?start=2990&end=5")
    assert (r.status_code, r.content, r.headers["accept-ranges"]) == (200, circ[2990:] + circ[:5], "none")
    assert client.get(f"/sequence/{dc}?start=2990&end=0").content == circ[2990:]
    cases = [
        (f"/sequence/{dl}?start=4000&end=10", {}, 416),  # linear: start > end
        (f"/sequence/{dl}?start=5000", {}, 416),
        (f"/sequence/{dl}?end=5001", {}, 416),
        (f"/sequence/{dl}?start=x", {}, 400),
        (f"/sequence/{dl}?start=4294967296", {}, 400),
        (f"/sequence/{dl}?start=1", {"Range": "bytes=1-2"}, 400),
        (f"/sequence/{dl}", {"Range": "bytes=1-2,4-5"}, 400),
        (f"/sequence/{dl}", {"Range": "bytes=-5"}, 400),
        (f"/sequence/{dl}", {"Range": "bytes=5000-5001"}, 416),
        (f"/sequence/{dl}", {"Range": "bytes=9-8"}, 416),
        ("/sequence/Garbagechecksum", {}, 404),
        ("/sequence/Garbagechecksum/metadata", {}, 404),
        (f"/sequence/{'0' * 32}", {}, 404),
    ]
    for url, headers, status in cases:
        resp = client.get(url, headers=headers)
        assert resp.status_code == status, (url, headers, resp.text)
        assert "content-length" in resp.headers


def test_range_206_clamped(client: TestClient, loaded: dict[str, Any]) -> None:
    r = client.get(f"/sequence/{loaded['dl'].md5}", headers={"Range": "bytes=4990-999999"})
    assert r.status_code == 206
    assert r.content == loaded["lin"][4990:]
    assert r.headers["content-range"] == "bytes 4990-4999/5000"
    assert r.headers["content-length"] == "10"


def test_slices_are_ranged_gets(client: TestClient, s3store: S3Store, store: RefgetStore) -> None:
    from gsdesktop.refget.service import BLOCK

    seq = _random_seq(700_000, 12)
    load_chunks(store, [b">ranged circ\n", seq, b"\n"], "r.fa", circular=["ranged"])
    d = compute(seq)
    seen: list[str | None] = []

    def spy(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == f"refget/sequence/{d.trunc512}":
            seen.append(params.get("Range"))

    s3store.s3.meta.events.register("provide-client-params.s3.GetObject", spy)
    try:
        url = f"/sequence/{d.md5}"
        assert client.get(url, params={"start": 100, "end": 200}).content == seq[100:200]
        assert client.get(url, params={"start": 150, "end": 160}).content == seq[150:160]  # cached block
        assert (
            client.get(url, params={"start": BLOCK - 5, "end": BLOCK + 5}).content
            == seq[BLOCK - 5 : BLOCK + 5]
        )
        assert client.get(url, params={"start": 699_990, "end": 20}).content == seq[699_990:] + seq[:20]
        big = client.get(url, headers={"Range": "bytes=1000-400999"})
        assert (big.status_code, big.content) == (206, seq[1000:401000])
    finally:
        s3store.s3.meta.events.unregister("provide-client-params.s3.GetObject", spy)
    last_block = (700_000 - 1) // BLOCK * BLOCK
    assert seen == [
        f"bytes=0-{BLOCK - 1}",  # first slice: its aligned block; the second slice: no GET at all
        f"bytes={BLOCK}-{2 * BLOCK - 1}",  # straddling slice: only the block not yet cached
        f"bytes={last_block}-699999",  # circular wrap: end block (the first block is cached)
        "bytes=1000-400999",  # a large slice: one exact ranged GET
    ]


def test_ambiguous_alias_is_409(client: TestClient, store: RefgetStore) -> None:
    name = "dup" + secrets.token_hex(3)
    for seed in (10, 11):
        load_chunks(store, [b">" + name.encode() + b"\n" + _random_seq(100, seed) + b"\n"], "x.fa")
    assert client.get(f"/sequence/{name}").status_code == 409


def test_reload_is_idempotent(store: RefgetStore, s3store: S3Store) -> None:
    seq = _random_seq(20000)
    data = [b">idem1\n", seq[:7000], b"\n", seq[7000:], b"\n>idem2 same bases again\n", seq, b"\n"]
    first = load_chunks(store, data, "idem.fa")
    assert first.objects_written == 1 + 1 + 4 + 2  # sequence, metadata, 4 secondaries, 2 names
    keys = {o["Key"]: o["ETag"] for o in s3store.s3.list_objects_v2(Bucket=s3store.bucket,
            Prefix="refget/")["Contents"]}  # fmt: skip
    again = load_chunks(store, data, "idem.fa")
    assert again.objects_written == 0
    assert [s.trunc512 for s in again.sequences] == [compute(seq).trunc512] * 2
    after = {o["Key"]: o["ETag"] for o in s3store.s3.list_objects_v2(Bucket=s3store.bucket,
             Prefix="refget/")["Contents"]}  # fmt: skip
    assert after == keys
    head = s3store.s3.head_object(Bucket=s3store.bucket, Key=f"refget/sequence/{compute(seq).trunc512}")
    assert head["ContentType"] == SEQUENCE_TYPE
    meta = s3store.s3.head_object(Bucket=s3store.bucket, Key=f"refget/metadata/{compute(seq).trunc512}.json")
    assert meta["ContentType"] == METADATA_TYPE


def test_malformed_fasta_loads_nothing(store: RefgetStore, s3store: S3Store) -> None:
    good = _random_seq(500)
    data = b">fine\n" + good + b"\n>broken\nACGT\nAC#GT\n"
    with pytest.raises(FastaFormatError, match=r"bad\.fa: line 5: invalid character '#'"):
        load_chunks(store, [data], "bad.fa")
    resp = s3store.s3.list_objects_v2(
        Bucket=s3store.bucket, Prefix=f"refget/sequence/{compute(good).trunc512}"
    )
    assert resp.get("KeyCount", 0) == 0


def test_http_load_requires_sign_in(client: TestClient, s3store: S3Store, tmp_path: Path) -> None:
    from gsdesktop.server.users import UserStore

    name, pw = "rg" + secrets.token_hex(4), secrets.token_urlsafe(12)
    UserStore(s3store).add(name, pw)
    seq = _random_seq(1000)
    body = b">httpload\n" + seq + b"\n"
    assert client.post("/refget/load", content=body).status_code == 401
    assert client.get("/refget/whoami", headers={"gs-token": "forged"}).status_code == 401
    auth = {"Authorization": "Basic " + base64.b64encode(f"{name}:{pw}".encode()).decode()}
    assert client.get("/refget/whoami", headers=auth).json() == {"user": name}
    bad = client.post("/refget/load?name=x.fa", content=b">a\nAC!\n", headers=auth)
    assert bad.status_code == 400
    assert "x.fa: line 2" in bad.json()["message"]
    r = client.post("/refget/load?name=h.fa&circular=httpload", content=body, headers=auth)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["sequences"][0]["md5"] == compute(seq).md5
    assert rep["sequences"][0]["circular"] is True
    got = client.get(f"/sequence/{compute(seq).md5}?start=995&end=3")
    assert got.content == seq[995:] + seq[:3]
