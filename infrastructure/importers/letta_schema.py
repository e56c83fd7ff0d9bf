"""Check an agent file against Letta's own typed schema (`letta_client.types.AgentFileSchema`,
letta-client 0.1.324, the `letta` extra), for `export-af --check-schema` and the tests.

Letta's models allow unknown fields, so passing validation alone would not show a field Letta
would silently drop: `schema_check` also names every field outside the schema.
"""

from __future__ import annotations

import json
from typing import Any


class SchemaUnavailable(ImportError):
    """The `letta` extra is not installed."""


def schema_check(data: bytes) -> list[str]:
    """What keeps an agent file from being one Letta's schema describes in full: validation
    errors, then fields the schema does not name (JSON paths); empty when there is none."""
    try:
        from letta_client.core.serialization import get_field_to_alias_mapping
        from letta_client.types import AgentFileSchema
        from pydantic import BaseModel, ValidationError
    except ImportError as e:
        raise SchemaUnavailable("checking against Letta's schema needs letta-client: "
                                "pip install 'ctxstore[letta]'") from e

    def extras(model: Any, where: str) -> list[str]:
        if isinstance(model, list):
            return [x for i, item in enumerate(model) for x in extras(item, f"{where}[{i}]")]
        if not isinstance(model, BaseModel):
            return []
        # Fern's wire aliases (an MCP server's `metadata_`) are the schema's own names
        aliases = set(get_field_to_alias_mapping(type(model)).values())
        found = [f"{where}.{k}" for k in (model.model_extra or {}) if k not in aliases]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{where}.{name}")
        return found

    try:
        parsed = AgentFileSchema.model_validate(json.loads(data))
    except ValidationError as e:
        return [f"$.{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()]
    return [f"{path}: not in Letta's agent-file schema" for path in extras(parsed, "$")]
