"""The HTTP API page's Markdown, rendered from the server's OpenAPI document.

Each operation gets its summary and description, what it needs (an L402 credential, an
Idempotency-Key), its request body and its answers, each body as a table of fields with
their types and limits. Nested fields are written as paths (``samples[].index``); the
shared schemas (``$ref``) are linked to their own table at the end. Static Markdown, so
the page needs no script and search finds every field.
"""

from __future__ import annotations

from html import escape
from http import HTTPStatus

REF = "#/components/schemas/"


def render(document: dict) -> str:
    info = document["info"]
    lines = [prose(info.get("description", "")), "",
             f"OpenAPI {document['openapi']}, version {info['version']}."]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            lines += ["", *render_operation(method, path, operation, document)]
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["", "## Shared bodies"]
        for name, schema in schemas.items():
            lines += ["", f"### {name}", "", *fields_table(schema)]
    answer_headers = headers(document)
    if answer_headers:
        lines += ["", "## Answer headers"]
        for name, header in answer_headers.items():
            lines += ["", f"### {name}", "", f"{type_of(header['schema'])}: "
                      f"{prose(header.get('description', ''))}"]
    return "\n".join(lines) + "\n"


def render_operation(method: str, path: str, operation: dict, document: dict) -> list[str]:
    lines = [f"## `{method.upper()} {path}`", "", sentence(operation.get("summary", ""))]
    if operation.get("description"):
        lines += ["", prose(operation["description"])]
    lines += ["", *needs(operation, document)]
    body = operation.get("requestBody")
    if body:
        required = "" if body.get("required") else " (optional)"
        lines += ["", f"**Request body**{required}:", ""]
        for content_type, content in body["content"].items():
            lines += body_lines(content_type, content.get("schema", {}))
    lines += ["", "**Answers**:", "", "| status | when | body |", "|---|---|---|"]
    for status, response in operation["responses"].items():
        lines.append(row(f"{status} {HTTPStatus(int(status)).phrase}",
                         answer(response), answer_body(response)))
    for status, response in operation["responses"].items():
        for content_type, content in response.get("content", {}).items():
            schema = content.get("schema", {})
            if schema.get("properties"):
                lines += ["", f"The {status} body, `{content_type}`:", "",
                          *fields_table(schema)]
    return lines


def needs(operation: dict, document: dict) -> list[str]:
    """The credential and the parameters an operation takes."""
    schemes = document.get("components", {}).get("securitySchemes", {})
    lines = [f"Needs an {name} credential: header `{schemes[name]['name']}`, "
             f"{prose(schemes[name].get('description', ''))}."
             for requirement in operation.get("security", []) for name in requirement]
    if not lines:
        lines = ["No credential needed."]
    for parameter in operation.get("parameters", []):
        optional = "" if parameter.get("required") else ", optional"
        about = f": {prose(parameter['description'])}" if "description" in parameter else ""
        lines += ["", f"Takes {parameter['in']} `{parameter['name']}`{optional}: "
                      f"{type_of(parameter['schema'])}{about}."]
    return lines


def body_lines(content_type: str, schema: dict) -> list[str]:
    """A request body: its fields, or each form it may take, or its type."""
    lines = [f"`{content_type}`" + (f": {prose(schema['description'])}"
                                    if "description" in schema else "")]
    forms = schema.get("oneOf", [])
    if forms and all("properties" in form for form in forms):
        for number, form in enumerate(forms, 1):
            lines += ["", f"Form {number} of {len(forms)}:", "", *fields_table(form)]
    elif "properties" in schema:
        lines += ["", *fields_table(schema)]
    else:
        lines[0] += f" ({type_of(schema)})"
    return lines


def fields_table(schema: dict) -> list[str]:
    lines = ["| field | type | required | about |", "|---|---|---|---|"]
    for name, field, required in fields(schema):
        lines.append(row(f"`{name}`", type_of(field), "yes" if required else "",
                         prose(field.get("description", ""))))
    return lines


def fields(schema: dict, prefix: str = "") -> list[tuple[str, dict, bool]]:
    """(path, schema, required) of every field, nested objects and arrays of them too."""
    found = []
    required = set(schema.get("required", []))
    for name, field in schema.get("properties", {}).items():
        path = prefix + name
        found.append((path, field, name in required))
        items = field.get("items", {})
        if "properties" in field:
            found += fields(field, path + ".")
        elif "properties" in items:
            found += fields(items, path + "[].")
    return found


def type_of(schema: dict) -> str:
    """A schema in a few words: its type and limits, an array's items, null if allowed."""
    limits = f" ({bounds(schema)})" if bounds(schema) else ""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        text = f"[{name}](#{name.lower()})"
    elif "oneOf" in schema or "anyOf" in schema:
        text = " or ".join(type_of(s) for s in schema.get("oneOf", schema.get("anyOf")))
        text += limits
    elif "enum" in schema:
        text = "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    elif schema.get("type") == "array":
        text = f"array{limits} of {type_of(schema.get('items', {}))}"
    else:
        text = schema.get("format", schema.get("type", "any")) + limits
    return text + (" or null" if schema.get("nullable") else "")


def bounds(schema: dict) -> str:
    words = []
    for low, high, unit in (("minimum", "maximum", ""), ("minItems", "maxItems", " items"),
                            ("minLength", "maxLength", " characters")):
        if low in schema and high in schema:
            span = f"{schema[low]:,}" if schema[low] == schema[high] \
                else f"{schema[low]:,} to {schema[high]:,}"
            words.append(span + unit)
        elif low in schema:
            words.append(f"at least {schema[low]:,}{unit}")
        elif high in schema:
            words.append(f"at most {schema[high]:,}{unit}")
    if schema.get("uniqueItems"):
        words.append("distinct")
    if "pattern" in schema:
        words.append(f"matching `{schema['pattern']}`")
    return ", ".join(words)


def answer(response: dict) -> str:
    text = sentence(response.get("description", ""))
    for name in response.get("headers", {}):
        text += f" Header [`{name}`](#{name.lower()})."
    return text


def headers(document: dict) -> dict[str, dict]:
    """Every response header of the document, by name (described once, on the page's end)."""
    return {name: header for operations in document["paths"].values()
            for operation in operations.values()
            for response in operation["responses"].values()
            for name, header in response.get("headers", {}).items()}


def answer_body(response: dict) -> str:
    kinds = []
    for content_type, content in response.get("content", {}).items():
        schema = content.get("schema", {})
        kind = "fields below" if schema.get("properties") else type_of(schema)
        kinds.append(f"`{content_type}`, {kind}")
    return "; ".join(kinds)


def sentence(text: str) -> str:
    text = prose(text)
    return text[:1].upper() + text[1:] + ("" if not text or text.endswith(".") else ".")


def prose(text: str) -> str:
    """The document's plain text as Markdown: <bolt11> is a placeholder, not a tag, and a
    | does not end a table's cell (in a code span it never does)."""
    return escape(text, quote=False).replace("|", "\\|")


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"
