"""Open datasets as CKAN dicts and as DCAT-AP JSON-LD (开放数据目录元数据)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from smartcity.core.models import Department
from smartcity.exchange import service
from smartcity.exchange.models import Resource

_NAMESPACE = uuid.UUID("6f1c1d2e-9b7a-4b52-8d0e-3c5a7e2f9a10")  # CKAN resource ids
FREQUENCIES = {
    "realtime": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
    "irregular": "IRREG",
}
EU = "http://publications.europa.eu/resource/authority"
DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def ckan_time(instant: datetime) -> str:
    """CKAN writes naive UTC with microseconds, e.g. 2026-11-24T08:00:00.000000."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def organization_name(department: Department) -> str:
    return department.code.lower()


def organization_dict(department: Department, package_count: int | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {
        "id": str(department.id),
        "name": organization_name(department),
        "title": department.name,
        "display_name": department.name,
        "description": department.name_en,
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": ckan_time(department.created_at),
    }
    if package_count is not None:
        org["package_count"] = package_count
    return org


def download_url(base: str, code: str, fmt: str = "csv") -> str:
    return f"{base}/api/v1/exchange/open/{code}/download?format={fmt}"


def resource_id(resource: Resource) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{resource.id}/csv"))


def resource_dict(resource: Resource, base: str) -> dict[str, Any]:
    return {
        "id": resource_id(resource),
        "package_id": str(resource.id),
        "name": f"{resource.title} (CSV)",
        "description": "全部记录，逗号分隔值文件；JSON 见 format=json。"
        "All records as CSV; JSON with format=json.",
        "format": "CSV",
        "mimetype": "text/csv",
        "url": download_url(base, resource.code),
        "url_type": None,
        "created": ckan_time(resource.created_at),
        "last_modified": ckan_time(resource.updated_at),
        "metadata_modified": ckan_time(resource.updated_at),
        "position": 0,
        "state": "active",
        "datastore_active": False,
        "size": None,
        "hash": "",
    }


def dataset_dict(resource: Resource, department: Department, base: str) -> dict[str, Any]:
    """A resource in CKAN's dataset shape (package_show)."""
    license_title, license_url = service.LICENSES.get(resource.license_id, ("", ""))
    return {
        "id": str(resource.id),
        "name": resource.code,
        "title": resource.title,
        "notes": resource.description,
        "type": "dataset",
        "owner_org": str(department.id),
        "organization": organization_dict(department),
        "author": department.name,
        "author_email": None,
        "maintainer": department.name,
        "maintainer_email": None,
        "url": f"{base}/data/{resource.code}",
        "version": None,
        "license_id": resource.license_id,
        "license_title": license_title,
        "license_url": license_url,
        "isopen": True,
        "private": False,
        "state": "active",
        "metadata_created": ckan_time(resource.created_at),
        "metadata_modified": ckan_time(resource.updated_at),
        "num_resources": 1,
        "num_tags": len(resource.keywords),
        "tags": [
            {"name": word, "display_name": word, "state": "active", "vocabulary_id": None}
            for word in resource.keywords
        ],
        "groups": [],
        "relationships_as_object": [],
        "relationships_as_subject": [],
        "extras": [
            {"key": "sharing_class", "value": resource.sharing_class},
            {"key": "sharing_class_zh", "value": service.SHARING_CLASSES[resource.sharing_class]},
            {"key": "update_cycle", "value": resource.update_cycle},
            {"key": "publisher_code", "value": department.code},
            {"key": "source_registry", "value": resource.source_registry},
            {
                "key": "fields",
                "value": json.dumps(resource.fields, ensure_ascii=False, separators=(",", ":")),
            },
        ],
        "resources": [resource_dict(resource, base)],
    }


# --- DCAT-AP (JSON-LD) --------------------------------------------------------------------


def _text(value: str) -> dict[str, str]:
    return {"@value": value, "@language": "zh-CN"}


def _when(instant: datetime) -> dict[str, str]:
    return {"@value": instant.astimezone(UTC).isoformat(), "@type": "xsd:dateTime"}


def dcat_dataset(resource: Resource, department: Department, base: str) -> dict[str, Any]:
    """One dataset as DCAT-AP 3 (dcat:Dataset with its two distributions)."""
    license_url = service.LICENSES.get(resource.license_id, ("", ""))[1]
    distributions = []
    for fmt, media in (("CSV", "text/csv"), ("JSON", "application/json")):
        url = download_url(base, resource.code, fmt.lower())
        distribution: dict[str, Any] = {
            "@id": f"{base}/dataset/{resource.code}/distribution/{fmt.lower()}",
            "@type": "dcat:Distribution",
            "dct:title": _text(f"{resource.title} ({fmt})"),
            "dcat:accessURL": {"@id": url},
            "dcat:downloadURL": {"@id": url},
            "dct:format": {"@id": f"{EU}/file-type/{fmt}"},
            "dcat:mediaType": {"@id": f"https://www.iana.org/assignments/media-types/{media}"},
        }
        if license_url:
            distribution["dct:license"] = {"@id": license_url}
        distributions.append(distribution)
    dataset: dict[str, Any] = {
        "@id": f"{base}/dataset/{resource.code}",
        "@type": "dcat:Dataset",
        "dct:identifier": resource.code,
        "dct:title": _text(resource.title),
        "dct:description": _text(resource.description),
        "dcat:keyword": [_text(word) for word in resource.keywords],
        "dct:publisher": {
            "@id": f"{base}/organization/{organization_name(department)}",
            "@type": "foaf:Organization",
            "foaf:name": _text(department.name),
        },
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": department.name},
        "dct:issued": _when(resource.created_at),
        "dct:modified": _when(resource.updated_at),
        "dct:accrualPeriodicity": {
            "@id": f"{EU}/frequency/{FREQUENCIES.get(resource.update_cycle, 'IRREG')}"
        },
        "dct:accessRights": {"@id": f"{EU}/access-right/PUBLIC"},
        "dcat:landingPage": {"@id": f"{base}/data/{resource.code}"},
        "dcat:distribution": distributions,
    }
    if license_url:
        dataset["dct:license"] = {"@id": license_url}
    return dataset
