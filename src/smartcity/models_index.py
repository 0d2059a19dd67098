"""Imports every module's tables so Alembic and the tests see the whole schema."""

from __future__ import annotations

import importlib


def import_all_models() -> None:
    from smartcity.app import modules

    importlib.import_module("smartcity.core.models")
    for module in modules():
        # a module outside the smartcity package (a test's own) names its package in extra
        package = module.extra.get("package", f"smartcity.{module.name}")
        try:
            importlib.import_module(f"{package}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.models":
                raise
