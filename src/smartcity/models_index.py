"""Imports every module's tables so Alembic and the tests see the whole schema."""

from __future__ import annotations

import importlib


def import_all_models() -> None:
    from smartcity.app import modules

    importlib.import_module("smartcity.core.models")
    for module in modules():
        try:
            importlib.import_module(f"smartcity.{module.name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"smartcity.{module.name}.models":
                raise
