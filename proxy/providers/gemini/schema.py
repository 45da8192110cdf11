"""JSON Schema as Gemini's OpenAPI-subset `Schema` accepts it, for function parameters and
structured output."""

from typing import Any

from proxy.providers.base import Json

# JSON-schema keywords Gemini's OpenAPI-subset `Schema` rejects.
_SCHEMA_DROPPED = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "additionalProperties", "strict",
     "unevaluatedProperties", "patternProperties", "dependentSchemas", "examples"}
)  # fmt: skip


def schema_clean(schema: Any, defs: Json | None = None, depth: int = 0) -> Any:
    """A JSON schema as Gemini's OpenAPI-subset `Schema` accepts it: unsupported keywords
    dropped, local `$ref`s and `allOf` inlined, `oneOf` read as `anyOf`, `const` as a one-value
    `enum`, `"type": [T, "null"]` as `nullable`."""
    if not isinstance(schema, dict):
        return schema
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        # A recursive type cannot be inlined for ever: its deepest level is left open.
        return schema_clean(target, defs, depth + 1) if target and depth < 8 else {}
    cleaned: Json = {}
    for key, value in schema.items():
        if key in _SCHEMA_DROPPED or key == "not":
            continue
        if key == "properties" and isinstance(value, dict):
            cleaned[key] = {name: schema_clean(sub, defs, depth) for name, sub in value.items()}
        elif key == "items":
            cleaned[key] = schema_clean(value, defs, depth)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            cleaned["anyOf"] = [schema_clean(sub, defs, depth) for sub in value]
        elif key == "allOf" and isinstance(value, list):
            for sub in value:  # an approximation: the first schema to set a keyword wins
                for sub_key, sub_value in (schema_clean(sub, defs, depth) or {}).items():
                    cleaned.setdefault(sub_key, sub_value)
        elif key == "const":
            cleaned["enum"] = [value]
        else:
            cleaned[key] = value
    return _nullable(cleaned)


def _nullable(schema: Json) -> Json:
    kinds = schema.get("type")
    if isinstance(kinds, list):
        others = [kind for kind in kinds if kind != "null"]
        schema["type"] = others[0] if len(others) == 1 else others
        if "null" in kinds:
            schema["nullable"] = True
    return schema
