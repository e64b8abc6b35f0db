"""``/docs`` (Swagger UI) and ``/redoc`` served from assets installed with pigen.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so offline (a shop's
back office, a laptop on a train) ``/docs`` was a blank page. The assets come
from the ``fastapi-offline`` package (Swagger UI 5, ReDoc 2, a PyPI dependency)
and are mounted under :data:`ASSETS_PATH`; the pages name no other host.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
#: Files the pages load, all under ASSETS_PATH.
SWAGGER_JS, SWAGGER_CSS = "swagger-ui-bundle.js", "swagger-ui.css"
REDOC_JS, FAVICON = "redoc.standalone.js", "favicon.png"
# Swagger UI would otherwise ask validator.swagger.io for a badge.
SWAGGER_PARAMETERS = {"validatorUrl": None}
#: The pages may load nothing from another host: ReDoc's bundle has a Redocly logo
#: hard-wired to a CDN, which this blocks before any request (the logo hides itself).
#: Inline script and styles: FastAPI's page starts Swagger UI inline and both UIs
#: inject styles; ReDoc's search runs in a blob: worker.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; "
                           "style-src 'self' 'unsafe-inline'; "
                           "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:")


def assets_dir() -> Path:
    """The installed folder holding the Swagger UI and ReDoc files."""
    return Path(str(files("fastapi_offline") / "static"))


def add_docs_pages(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve ``docs_url`` and ``redoc_url`` for ``app`` (created with both set to None)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
    redirect_url = f"{docs_url}/oauth2-redirect"

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _local_only(get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=asset(request, SWAGGER_JS), swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON), oauth2_redirect_url=redirect_url,
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_PARAMETERS}))

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _local_only(get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, REDOC_JS), redoc_favicon_url=asset(request, FAVICON),
            with_google_fonts=False))


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
