"""The extension endpoints' JSON bodies and answers, typed: what the OpenAPI document shows.

The routes read their bodies themselves, after the sign-in check and capped in size (no unauthenticated
caller makes the server read a body), and check them field by field: a bad entry of a batch is that
entry's error, not the whole request's, and every message names the field. These models are the
documented wire format of those bodies and answers (``openapi_extra=json_body(...)``,
``responses=answer(...)``); the answers themselves are written as before, byte for byte. Sharing's
models live with its router (:mod:`gsdesktop.server.sharing`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEX_MD5 = r"^[0-9a-fA-F]{32}$"


def json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of a route that reads its JSON body itself (after sign-in, capped).

    Nested models are written inline: ``openapi_extra`` is copied into the document as it is, so a
    ``$ref`` to pydantic's local ``$defs`` would point nowhere.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": inline(schema)}}}
    }


def answer(
    model: type[BaseModel], status: int = 200, description: str = "Successful Response"
) -> dict[int | str, Any]:
    """OpenAPI ``responses`` entry of a route that writes its JSON answer itself (not re-serialized)."""
    return {status: {"model": model, "description": description}}


class ErrorBody(BaseModel):
    """Every error the server answers itself (:func:`gsdesktop.server.auth.error_body`)."""

    status: int = Field(description="the HTTP status code, repeated")
    error: str = Field(description="its HTTP reason phrase, e.g. Not Found")
    message: str = Field(description="what went wrong, for a person")


_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_REFUSED = "the request was refused ({status, error, message})"
_FAILED = "the server or its store failed ({status, error, message})"
#: The app-wide OpenAPI ``responses``: every operation may answer an error of the one shape.
ERROR_RESPONSES: dict[int | str, Any] = {
    "4XX": {"model": ErrorBody, "description": _REFUSED},
    "5XX": {"model": ErrorBody, "description": _FAILED},
}
#: The same for a route whose success is plain text (a token, a URL): its errors are JSON all the same.
TEXT_ROUTE_ERRORS: dict[int | str, Any] = {
    "4XX": {"description": _REFUSED, "content": _ERROR_REF},
    "5XX": {"description": _FAILED, "content": _ERROR_REF},
}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")  # fields are only ever added (old clients ignore new ones)


# -- uploadurls-batch ---------------------------------------------------------------------------------------
class UploadItem(_Wire):
    path: str = Field(description="the file: /users/<user>/<dir>/<name> (beta) or /Home/<user>/... (v1.0)")
    size: int = Field(ge=0, description="bytes (single PUT: at most 5 GiB; use multipart above)")
    md5: str | None = Field(None, pattern=HEX_MD5, description="hex MD5 (required on the beta route)")
    contentType: str = Field(min_length=1)
    ifMatch: str | None = Field(
        None, pattern=HEX_MD5, description="sign only while the file has this MD5 (else a 412 item)"
    )
    ifNoneMatch: bool | None = Field(None, description="true: sign only while no file or folder has the name")


class UploadBatch(_Wire):
    files: list[UploadItem] = Field(max_length=1000)


class ItemError(_Wire):
    path: str
    status: int = Field(description="the HTTP status this item would have had on its own")
    message: str


class SignedUpload(_Wire):
    path: str
    url: str = Field(description="a presigned S3 PUT URL")
    headers: dict[str, str] | None = Field(
        None, description="headers the PUT must send (If-Match / If-None-Match of a precondition)"
    )


class UploadBatchAnswer(_Wire):
    results: list[SignedUpload | ItemError] = Field(description="one per requested file, in order")


# -- downloadurls-batch -------------------------------------------------------------------------------------
class DownloadBatch(_Wire):
    paths: list[str] = Field(max_length=1000, description="files: /users/<user>/... or /Home/<user>/...")


class SignedDownload(_Wire):
    path: str
    url: str = Field(description="a presigned S3 GET URL")


class DownloadBatchAnswer(_Wire):
    results: list[SignedDownload | ItemError] = Field(description="one per requested path, in order")


# -- multipart ----------------------------------------------------------------------------------------------
class MultipartLimits(_Wire):
    md5AtComplete: bool = Field(description="the whole-file MD5 may come with complete instead of start")
    version: int
    minPartSize: int
    defaultPartSize: int
    maxParts: int
    maxSize: int
    maxUrlBatch: int


class MultipartStart(_Wire):
    path: str = Field(description="the file to create: /users/<user>/... or /Home/<user>/...")
    size: int = Field(ge=0)
    md5: str | None = Field(None, pattern=HEX_MD5, description="whole-file hex MD5 (or at complete)")
    contentType: str | None = None
    partSize: int | None = Field(None, ge=1)
    ifMatch: str | None = Field(None, pattern=HEX_MD5, description="complete only over this version")
    ifNoneMatch: bool | None = Field(None, description="true: complete only while the name is free")


class MultipartUpload(_Wire):
    uploadId: str
    path: str
    size: int
    md5: str | None
    contentType: str | None
    partSize: int
    partCount: int
    created: int = Field(description="Unix time")


class StoredPart(_Wire):
    partNumber: int
    etag: str
    size: int


class MultipartUploadParts(MultipartUpload):
    parts: list[StoredPart] = Field(description="parts already stored (resume from here)")


class MultipartUploads(_Wire):
    uploads: list[MultipartUpload]


class PartWanted(_Wire):
    partNumber: int = Field(ge=1)
    md5: str = Field(pattern=HEX_MD5, description="the part's hex MD5 (bound into its URL)")


class PartUrlsRequest(_Wire):
    parts: list[PartWanted] = Field(min_length=1, max_length=1000)
    expiresIn: int | None = Field(None, ge=1, description="seconds (default 3600, at most 7 days)")


class PartUrl(_Wire):
    partNumber: int
    url: str
    contentMd5: str = Field(description="the Content-MD5 header the PUT must send")
    size: int
    expiresAt: int = Field(description="Unix time")


class PartUrls(_Wire):
    uploadId: str
    urls: list[PartUrl]


class PartDone(_Wire):
    partNumber: int = Field(ge=1)
    etag: str = Field(description="the part's ETag (its hex MD5)")


class MultipartComplete(_Wire):
    parts: list[PartDone]
    md5: str | None = Field(None, pattern=HEX_MD5, description="whole-file hex MD5 when not given at start")


class MultipartDone(_Wire):
    path: str
    size: int
    md5: str
    etag: str
    contentType: str | None
    metadata: dict[str, Any] = Field(description="the new file's GSFileMetadata")


# -- fingerprint --------------------------------------------------------------------------------------------
class Fingerprint(_Wire):
    fingerprint: str = Field(description="changes only when the store was restored from a backup")


# -- mkdir / copy / move (Data Manager routes with our extensions) -------------------------------------------
class MakeDirectory(_Wire):
    isDirectory: bool = Field(description="true: create the folder (no body: copy from x-gs-copy-source)")


class MoveRequest(_Wire):
    path: str = Field(description="the new path: /Home/<user>/<new path> (or its API URL)")
