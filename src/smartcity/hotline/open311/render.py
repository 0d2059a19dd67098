"""Open311's two formats: XML (mandatory in the standard) and JSON following it. A list of
records is a root element of item elements; a list inside a record is named by its item
tag (``attributes`` of ``attribute``, ``values`` of ``value``, ...). Errors are the
standard's ``errors``/``error`` list, each also carrying the problem ``type``."""

from __future__ import annotations

import json
from typing import Any, Literal
from xml.etree import ElementTree as ET

from starlette.responses import Response

Format = Literal["json", "xml"]
ITEM_TAGS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: ET.Element, record: dict[str, Any]) -> None:
    for key, value in record.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            tag = ITEM_TAGS.get(key, "item")
            for item in value:
                element = ET.SubElement(child, tag)
                if isinstance(item, dict):
                    _fill(element, item)
                else:
                    element.text = _text(item)
        elif isinstance(value, dict):
            _fill(child, value)
        elif value is not None:
            child.text = _text(value)


def to_xml(root: str, item: str | None, body: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    element = ET.Element(root)
    if isinstance(body, list):
        assert item is not None
        for record in body:
            _fill(ET.SubElement(element, item), record)
    else:
        _fill(element, body)
    data: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + data


def respond(
    fmt: Format,
    root: str,
    item: str | None,
    body: list[dict[str, Any]] | dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if fmt == "xml":
        return Response(
            to_xml(root, item, body), status_code=status, media_type=XML_TYPE, headers=headers
        )
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=status,
        media_type=JSON_TYPE,
        headers=headers,
    )


def error(
    fmt: Format, status: int, description: str, problem_type: str, headers: dict[str, str]
) -> Response:
    """The standard's error list; ``type`` is the platform's stable problem type."""
    body = [{"code": status, "description": description, "type": problem_type}]
    return respond(fmt, "errors", "error", body, status=status, headers=headers)


def format_of(path: str) -> Format:
    return "xml" if path.endswith(".xml") else "json"
