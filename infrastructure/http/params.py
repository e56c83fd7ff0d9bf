"""Parameters of a state-changing route from the query string or the JSON body, alike.

The seed's route signatures declare their parameters as query parameters
(`POST /context/restore/{id}?target_agent_id=x`), while its UI sends them as a JSON body
(`{"target_agent_id": x}`). FastAPI would read only one of the two and silently ignore the other,
so a client of the other form would write to the wrong agent. Here both forms go through one
request model, and whatever cannot be trusted is a 422 naming the parameter, before anything is
written:

- a parameter the model does not know (query or body): it would otherwise be ignored;
- the same parameter twice in the query, or in both with different values: which one is meant?
- a body that is not a JSON object.

`model_params(Model)` gives the dependency and the OpenAPI description of both forms (every
field as an optional query parameter and as an optional body property), so the document and
schemathesis see the query form too. `no_query` refuses any query parameter on a route that
takes none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from ctxstore.domain import bounds
from ctxstore.domain.bounds import OutOfBounds

M = TypeVar("M", bound=BaseModel)
Sources = dict[str, dict[str, Any]]


def _error(loc: tuple[str, ...], message: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": loc, "msg": message, "type": kind}


def _unknown(source: str, name: str, known: list[str]) -> dict[str, Any]:
    expected = ", ".join(known) if known else "none"
    return _error((source, name), f"unknown parameter {name!r}; this route takes: {expected}",
                  "extra_forbidden")


def _query(request: Request) -> tuple[dict[str, str], list[dict[str, Any]]]:
    values: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for name, value in request.query_params.multi_items():
        if name in values:
            errors.append(_error(("query", name), "given more than once in the query"))
        values[name] = value
    return values, errors


async def _body(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON object of the body; no body is no parameters. Any other JSON value, `null`
    included, is a 422 `body`: the README's rule, the same for every seed route."""
    raw = await request.body()
    if not raw.strip():
        return {}, []
    try:
        value, _ = bounds.loads(raw)  # strict UTF-8; never a RecursionError, however deep
    except OutOfBounds as e:
        return {}, [_error(("body",), e.message, "json_invalid")]
    except ValueError as e:
        return {}, [_error(("body",), f"invalid JSON: {e}", "json_invalid")]
    if not isinstance(value, dict):
        return {}, [_error(("body",), "the body must be a JSON object of parameters",
                           "model_attributes_type")]
    return value, []


def _one(model: type[BaseModel], name: str, value: Any, source: str
         ) -> tuple[Any, list[dict[str, Any]]]:
    """`value` validated as the field `name` alone (with its validators), or its errors."""
    blank = model.model_construct()
    try:
        model.__pydantic_validator__.validate_assignment(blank, name, value)
    except ValidationError as e:
        return None, [_error((source, *map(str, err["loc"])), err["msg"], err["type"])
                      for err in e.errors(include_url=False)]
    return getattr(blank, name), []


def _conflicts(model: type[BaseModel], query: dict[str, Any], body: dict[str, Any]
               ) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for name in sorted(set(query) & set(body)):
        from_query, query_errors = _one(model, name, query[name], "query")
        from_body, body_errors = _one(model, name, body[name], "body")
        if query_errors or body_errors:
            errors += query_errors + body_errors
        elif from_query != from_body:
            errors.append(_error(
                (name,), f"given in the query as {query[name]!r} and in the body as "
                f"{body[name]!r}: give it once, or the same value in both"))
    return errors


def _located(err: dict[str, Any], sources: Sources) -> dict[str, Any]:
    """A model error with the source its field came from, and a plain word when missing."""
    loc = tuple(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return _error(loc, "required: give it in the query string or the JSON body", "missing")
    source = next((s for s, values in sources.items() if loc and loc[0] in values), None)
    return _error((source, *loc) if source else loc, err["msg"], err["type"])


def parse_params(model: type[M], query: dict[str, Any], body: dict[str, Any]) -> M:
    """One model from both sources; RequestValidationError (422) naming each bad parameter."""
    known = list(model.model_fields)
    sources: Sources = {"query": query, "body": body}
    errors = [_unknown(source, name, known)
              for source, values in sources.items() for name in values if name not in known]
    errors += _conflicts(model, query, body)
    if errors:
        raise RequestValidationError(errors)
    try:
        return model.model_validate({**body, **query})
    except ValidationError as e:
        raise RequestValidationError([_located(dict(err), sources)
                                      for err in e.errors(include_url=False)]) from None


def command(model: type[M], source: str | None, values: dict[str, Any]) -> M:
    """The command of a route whose parameters FastAPI already took apart: a rule of the
    command that fails is a 422 naming the parameter where it came from (`query.at`); `source`
    None for a rule across parameters taken from the query and the body (`package_id`)."""
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise RequestValidationError([
            _error((*([source] if source else []), *map(str, err["loc"])), err["msg"],
                   err["type"])
            for err in e.errors(include_url=False)]) from None


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema without its `null` branch: a query parameter is absent, not null."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default", "title")}
    if len(options) == 1:
        return {**rest, **options[0]}
    return {**rest, "anyOf": options} if options else rest


def openapi_of(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route taking `model` from the query or the body: each field as an
    optional query parameter, and an optional JSON body of the same fields."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    if "$defs" in schema:
        raise ValueError(f"{model.__name__}: a parameter model holds only plain fields")
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in properties.items():
        description = prop.get("description", "")
        if name in required:
            description = f"Required, here or in the body. {description}".strip()
        parameters.append({"name": name, "in": "query", "required": False,
                           "description": description, "schema": _query_schema(prop)})
    body = {k: v for k, v in schema.items() if k != "required"}
    body["description"] = ("The same parameters as the query string, as a JSON object "
                           "(either form, or both with equal values).")
    return {"parameters": parameters, "requestBody": {
        "required": False, "content": {"application/json": {"schema": body}}}}


def model_params(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency giving `model` from the query string and the JSON body of the request."""

    async def dependency(request: Request) -> M:
        query, query_errors = _query(request)
        body, body_errors = await _body(request)
        if query_errors or body_errors:
            raise RequestValidationError(query_errors + body_errors)
        return parse_params(model, query, body)

    return dependency


async def no_query(request: Request) -> None:
    """For a state-changing route whose input is all in its body: a query parameter would be
    silently ignored, so it is refused."""
    errors = [_unknown("query", name, []) for name in request.query_params]
    if errors:
        raise RequestValidationError(errors)


NoQuery = Annotated[None, Depends(no_query)]


async def known_query(request: Request) -> None:
    """For a reading route with declared query parameters: one it does not declare (a typo,
    or the seed's name for a filter it lacks) is refused, never silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = sorted({p.alias for d in [dependant, *dependant.dependencies]
                    for p in d.query_params})
    errors = [_unknown("query", name, known) for name in dict.fromkeys(request.query_params)
              if name not in known]
    if errors:
        raise RequestValidationError(errors)


KnownQuery = Depends(known_query)
