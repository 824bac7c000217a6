"""``/openapi.json`` and ``/docs``: the API reference, served without any CDN (works offline)."""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.openapi import build_openapi


def _spec(request: Request) -> dict[str, Any]:
    cached: dict[str, Any] | None = getattr(request.app.state, "openapi", None)
    if cached is None:
        cached = build_openapi(request.app.routes)
        request.app.state.openapi = cached
    return cached


async def openapi_json(request: Request) -> Response:
    return JSONResponse(_spec(request))


def _schema_name(content: dict[str, Any]) -> str:
    for media in content.values():
        schema = media.get("schema") or {}
        ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
        if ref:
            name = str(ref).rsplit("/", 1)[-1]
            return f'<a href="#model-{name}">{html.escape(name)}</a>' + ("[]" if "items" in schema else "")
    return ""


def render_docs(spec: dict[str, Any]) -> str:
    rows = []
    for path, methods in spec["paths"].items():
        for method, item in methods.items():
            body = _schema_name((item.get("requestBody") or {}).get("content", {}))
            status, ok = next(iter(item["responses"].items()))
            public = "public" if item.get("security") == [] else "key"
            rows.append(
                f"<tr><td><b>{method.upper()}</b></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(item['summary'])}</td><td>{body}</td>"
                f"<td>{status} {_schema_name(ok.get('content', {}))}</td><td>{public}</td></tr>"
            )
    models = "".join(
        f'<h3 id="model-{html.escape(name)}">{html.escape(name)}</h3>'
        f"<pre>{html.escape(json.dumps(schema, indent=2))}</pre>"
        for name, schema in spec["components"]["schemas"].items()
    )
    info = spec["info"]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(info['title'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}
pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style></head><body>
<h1>{html.escape(info['title'])} {html.escape(info['version'])}</h1>
<p>Send the API key in the <code>X-Proxbox-API-Key</code> header. {html.escape(info['description'])}.
Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table><tr><th>Method</th><th>Path</th><th>What</th><th>Body</th><th>Answer</th><th>Auth</th></tr>
{''.join(rows)}</table><h2>Models</h2>{models}</body></html>"""


async def docs(request: Request) -> Response:
    return HTMLResponse(render_docs(_spec(request)))


routes: list[BaseRoute] = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
