"""Validation of our responses against OpenAI's own OpenAPI description (vendored, MIT)."""

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_PATH = Path(__file__).with_name("openai-openapi.yaml")


def _admit_null(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` means nothing to JSON Schema: spell it out."""
    if isinstance(node, list):
        return [_admit_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _admit_null(value) for key, value in node.items()}
    if not node.pop("nullable", False):
        return node
    if "enum" in node:
        node["enum"] = [*node["enum"], None]
    if isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
        return node
    return {"anyOf": [node, {"type": "null"}]}


@functools.cache
def _components() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC_PATH.read_text(), Loader=loader)  # noqa: S506 (a safe loader)
    components: dict[str, Any] = _admit_null(spec["components"])
    return components


def assert_conforms(instance: Any, schema_name: str) -> None:
    """Raise jsonschema.ValidationError unless `instance` fits `#/components/schemas/NAME`."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    jsonschema.Draft202012Validator(schema).validate(instance)
