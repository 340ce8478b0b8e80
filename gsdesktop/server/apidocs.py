"""API descriptions served by the server itself, with no internet needed.

* ``/docs``: Swagger UI for ``/openapi.json``, its JavaScript and CSS served from the ``swagger-ui-bundle``
  package (FastAPI's default page loads them from a CDN and stays blank on a lab network without internet).
  ``/redoc`` leads there (ReDoc's assets are not packaged on PyPI).
* ``/datamanager/application.wadl``: the WADL the seed document promises ("all the operations available
  from the Data Manager are described in WADL"), generated from the registered routes, so it never drifts
  from what the server answers.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

WADL_NS = "http://wadl.dev.java.net/2009/02"
ASSETS = "/docs/assets"
# a tiny inline icon instead of FastAPI's default, which is fetched from a CDN
FAVICON = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


def swagger_assets() -> Path:
    """The folder of ``swagger-ui-bundle.js`` and ``swagger-ui.css`` inside the installed package."""
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


_XSD = {"integer": "xs:int", "boolean": "xs:boolean", "number": "xs:double"}


def _xsd(param: dict[str, Any]) -> str:
    return _XSD.get(str(param.get("schema", {}).get("type", "")), "xs:string")


def wadl(app: FastAPI, base: str) -> str:
    """A WADL 2009 document of every Data Manager operation of ``app`` (both dialects and the extensions),
    made from the same route table as ``/openapi.json``."""
    ns = WADL_NS
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}application")
    ET.SubElement(root, f"{{{ns}}}doc", title=str(app.title)).text = "Generated from the server's routes."
    resources = ET.SubElement(root, f"{{{ns}}}resources", base=base + "/datamanager/")
    paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    for path in sorted(p for p in paths if p.startswith("/datamanager/")):
        rel = re.sub(r"\{(\w+):path\}", r"{\1}", path.removeprefix("/datamanager/"))
        resource = ET.SubElement(resources, f"{{{ns}}}resource", path=rel)
        operations = paths[path]
        templates: dict[str, str] = {}
        for op in operations.values():
            for param in op.get("parameters", []):
                if param.get("in") == "path":
                    templates.setdefault(param["name"], _xsd(param))
        for name, xsd in templates.items():
            ET.SubElement(resource, f"{{{ns}}}param", name=name, style="template", type=xsd, required="true")
        for method in sorted(operations):
            op = operations[method]
            node = ET.SubElement(
                resource, f"{{{ns}}}method", name=method.upper(), id=str(op.get("operationId", ""))
            )
            summary = str(op.get("summary") or op.get("description") or "").strip().splitlines()
            if summary and summary[0]:
                ET.SubElement(node, f"{{{ns}}}doc").text = summary[0]
            queries = [q for q in op.get("parameters", []) if q.get("in") == "query"]
            if queries:
                request = ET.SubElement(node, f"{{{ns}}}request")
                for q in queries:
                    ET.SubElement(request, f"{{{ns}}}param", name=q["name"], style="query", type=_xsd(q))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def install(app: FastAPI, base_url: Any) -> None:
    """Serve ``/docs`` (local assets), ``/redoc`` (-> /docs) and the WADL; ``base_url(request)`` names the
    server as its clients see it."""
    try:
        assets: Path | None = swagger_assets()
    except ImportError:  # a build without swagger-ui-bundle: the API itself must still start
        assets = None
    if assets is not None and assets.is_dir():
        app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")
    else:
        assets = None

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        if assets is None:
            return JSONResponse(
                {"message": "the API docs page is not installed here (swagger-ui-bundle); see /openapi.json"},
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return RedirectResponse("/docs", status_code=307)

    @app.get("/datamanager/application.wadl", include_in_schema=False)
    def application_wadl(request: Request) -> Response:
        return Response(wadl(app, base_url(request)), media_type="application/vnd.sun.wadl+xml")
