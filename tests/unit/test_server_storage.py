"""S3Store pieces that need no network: presigning hosts, ListObjectsV2 parsing, MD5 rules."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import ObjectInfo, S3Store, _client_error, _parse_list


def _store(public: str | None = None) -> S3Store:
    cfg = S3Config("http://10.0.0.5:8333", "bucket", "AK", "SK", public_endpoint=public)
    return S3Store(cfg, create_bucket=False)


def test_presigned_urls_use_public_endpoint_and_bind_headers() -> None:
    url = _store("https://s3.example.org").presign_put(
        "users/a/x y.txt", content_length=5, content_md5="XUFAKrxLKna5cZ2REBfFkg==",
        content_type="text/plain", md5_hex="5d41402abc4b2a76b9719d911017c592", expires=60,
    )  # fmt: skip
    parts = urlsplit(url)
    assert parts.netloc == "s3.example.org" and parts.path == "/bucket/users/a/x%20y.txt"
    q = parse_qs(parts.query)
    assert q["X-Amz-SignedHeaders"] == ["content-length;content-md5;content-type;host;x-amz-meta-md5-hash"]
    assert q["X-Amz-Expires"] == ["60"]
    internal = urlsplit(_store().presign_get("users/a/x", 300))
    assert internal.netloc == "10.0.0.5:8333"


def test_parse_list_decodes_url_encoded_keys() -> None:
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>users%2Fa%2F</Prefix><EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated><NextContinuationToken>tok==</NextContinuationToken>
  <Contents><Key>users%2Fa%2Fa+b%2Bc%C3%BC.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size></Contents>
  <CommonPrefixes><Prefix>users%2Fa%2Fsub%20dir%2F</Prefix></CommonPrefixes>
</ListBucketResult>"""
    page = _parse_list(xml)
    assert [o.key for o in page.objects] == ["users/a/a b+cü.txt"]
    assert page.objects[0].size == 5 and page.objects[0].md5 == "5d41402abc4b2a76b9719d911017c592"
    modified = page.objects[0].last_modified
    assert modified is not None and modified.year == 2026
    assert page.prefixes == ["users/a/sub dir/"]
    assert page.next_token == "tok=="


def test_error_xml_becomes_client_error() -> None:
    err = _client_error(
        403, b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>", "ListObjectsV2"
    )
    assert isinstance(err, ClientError) and err.response["Error"]["Code"] == "AccessDenied"
    assert _client_error(502, b"not xml", "ListObjectsV2").response["Error"]["Code"] == "502"


@pytest.mark.parametrize(
    ("etag", "meta", "expected"),
    [
        ("ABCDEF0123456789abcdef0123456789", None, "abcdef0123456789abcdef0123456789"),
        ("0123-2", {"md5-hash": "FF" * 16}, "ff" * 16),
        ("0123-2", {}, None),
    ],
)
def test_md5_from_etag_or_metadata(etag: str, meta: dict[str, str] | None, expected: str | None) -> None:
    assert ObjectInfo("k", 1, etag, None, metadata=meta).md5 == expected
