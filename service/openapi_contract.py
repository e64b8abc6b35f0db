"""Keep the OpenAPI document true to what the service answers (issue 13, schemathesis).

FastAPI documents the success response and its own 422 only. This module adds,
once for the whole app, what the routes really answer besides:

* each operation lists the error statuses its code can raise (``HTTPException(404``
  ... found in the endpoint, its dependencies and the module functions they call),
  503 where it needs the database or the models (outages, start-up, shed load),
  507 where it may write images, 400 and 413 where it takes a body;
* the 422 body is documented as it is sent: ``detail`` is FastAPI's list of
  problems, or one sentence for a rule a JSON Schema cannot state, plus ``message``;
* the discriminator of a tagged union is required (pydantic needs the tag);
* ``n`` and ``size`` say the configured caps, not the code's outer bounds.

And one answer is made to match the document: a request whose path is documented
but not for its method gets 405 with ``Allow`` naming every documented method of
that path (FastAPI named only the first route's, and sent ``POST .../plot.png`` to
``POST .../{action}`` for a 422 about ``action``).
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from pigen.service.api import deps
from pigen.service.settings import Settings

#: ``HTTPException(404`` / ``HTTPException(status.HTTP_401_...`` / ``Response(status_code=304``.
_RAISED = re.compile(r"HTTPException\(\s*(?:status\.HTTP_)?(\d{3})|status_code=(\d{3})")
#: Dependencies that reach the database or the models: their outages are 503.
_NEEDS_STORE = {deps.get_engine, deps.get_runtime, deps.get_images}
#: Only our own code is read for raised statuses.
_OWN_PACKAGE = "pigen.service"

ERROR = {"type": "object", "title": "Error", "required": ["detail"],
         "properties": {"detail": {"type": "string", "description": "What went wrong."}}}


def keep_contract(app: FastAPI, settings: Settings) -> None:
    """Rewrite ``app``'s document once, and answer undocumented methods with 405."""
    fastapi_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(fastapi_document(), app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(DocumentedMethods, document=openapi)


def document_errors(document: dict[str, Any], app: FastAPI, settings: Settings
                    ) -> dict[str, Any]:
    """``document`` with each operation's error answers, the real 422 body and the caps."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["HTTPValidationError"] = _validation_error_body()
    _require_discriminators(schemas)
    for path_format, methods, route in _api_routes(app):
        path = document["paths"].get(path_format, {})
        for method in methods:
            operation = path.get(method.lower())
            if operation is not None:
                _add_error_responses(operation, route)
                _state_caps(operation, settings)
    return document


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """(full path, methods, route) of each documented route, prefixes included."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield context.path_format or route.path_format, set(context.methods or ()), route


def _validation_error_body() -> dict[str, Any]:
    problems = {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}
    return {"type": "object", "title": "HTTPValidationError", "required": ["detail"],
            "properties": {
                "detail": {"anyOf": [problems, {"type": "string"}],
                           "description": "The problems found, or one sentence."},
                "message": {"type": "string", "description": "The problems as one line."}}}


def _require_discriminators(schemas: dict[str, Any]) -> None:
    """Pydantic refuses a tagged-union member without its tag, defaults or not."""
    for schema in _walk(schemas):
        discriminator = schema.get("discriminator")
        if not isinstance(discriminator, dict):
            continue
        tag = discriminator.get("propertyName")
        for ref in discriminator.get("mapping", {}).values():
            member = schemas.get(ref.rsplit("/", 1)[-1])
            if member is not None and tag not in member.setdefault("required", []):
                member["required"].append(tag)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _add_error_responses(operation: dict[str, Any], route: APIRoute) -> None:
    statuses = raised_statuses(route)
    callables = set(_dependency_calls(route.dependant))
    if callables & _NEEDS_STORE:
        statuses.add(503)
    if deps.get_images in callables:
        statuses.add(507)
    if "requestBody" in operation:
        statuses.update((400, 413))  # a body that is not JSON (FastAPI), or too large
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        if str(status) in responses or status < 300:
            continue
        responses[str(status)] = _response(status)


def _response(status: int) -> dict[str, Any]:
    described: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if status == 304:
        return described
    schema = "HTTPValidationError" if status == 422 else "Error"
    described["content"] = {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}
    if status in (503, 507):
        described["headers"] = {"Retry-After": {
            "description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
    if status == 401:
        described["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return described


def raised_statuses(route: APIRoute) -> set[int]:
    """Statuses written in the source of the route's endpoint, dependencies and helpers."""
    found: set[int] = set()
    seen: set[int] = set()
    pending: list[Callable[..., Any]] = [route.endpoint, *_dependency_calls(route.dependant)]
    while pending:
        function = pending.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        found.update(int(a or b) for a, b in _RAISED.findall(source))
        pending.extend(_own_functions_used_by(function))
    return found


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


def _own_functions_used_by(function: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """The functions of our package that ``function`` names (globals) or closes over."""
    code = getattr(function, "__code__", None)
    if code is None:
        return
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    namespace = getattr(function, "__globals__", {})
    candidates = [namespace.get(name) for name in names]
    candidates += [cell.cell_contents for cell in getattr(function, "__closure__", None) or ()
                   if _filled(cell)]
    for candidate in candidates:
        if inspect.isfunction(candidate) and candidate.__module__.startswith(_OWN_PACKAGE):
            yield candidate


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises)
    except ValueError:
        return False
    return True


def _state_caps(operation: dict[str, Any], settings: Settings) -> None:
    """The configured limits on ``n`` and ``size`` are the real maxima."""
    caps = {"n": settings.max_images_per_request, "size": settings.max_image_size}
    for parameter in operation.get("parameters", []):
        cap = caps.get(parameter.get("name"))
        if cap is None or parameter.get("in") != "query":
            continue
        schema = parameter.get("schema", {})
        for branch in [schema, *schema.get("anyOf", [])]:
            if branch.get("type") == "integer":
                branch["maximum"] = min(branch.get("maximum", cap), cap)


class DocumentedMethods:
    """405 with ``Allow`` for a documented path asked with a method it does not document.

    Paths are matched as the document states them: a parameter with an ``enum``
    (a ``Literal`` type) matches only its values, any other one segment.
    Undocumented paths (the demo, the docs) pass through untouched.
    """

    def __init__(self, app: ASGIApp, document: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.document = document
        self._paths: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = {method for pattern, method in self._documented()
                       if pattern.fullmatch(scope["path"])}
            if allowed and scope["method"] not in allowed:
                response = JSONResponse({"detail": "Method Not Allowed"}, 405,
                                        headers={"Allow": ", ".join(sorted(allowed))})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _documented(self) -> list[tuple[re.Pattern[str], str]]:
        if self._paths is None:
            self._paths = [(_path_pattern(template, operation), method.upper())
                           for template, item in self.document()["paths"].items()
                           for method, operation in item.items()
                           if method.upper() in _HTTP_METHODS]
        return self._paths


_HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def _path_pattern(template: str, operation: dict[str, Any]) -> re.Pattern[str]:
    choices = {p["name"]: p.get("schema", {}).get("enum") for p in operation.get("parameters", [])
               if p.get("in") == "path"}
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        pattern += re.escape(literal)
        if name:
            values = choices.get(name)
            pattern += ("(?:" + "|".join(re.escape(str(v)) for v in values) + ")" if values
                        else "[^/]+")
    return re.compile(pattern)
