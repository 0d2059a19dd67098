"""An import-linter contract of our own: a package may be used from outside only through its
published entry (an engine's ``contract``), so a domain cannot reach into its internals."""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


class ThroughEntryContract(Contract):
    """Every import of a module inside one of ``packages`` from a module outside that package
    must import ``<package>.<entry>`` (or a name in it); ``exempt`` importers (the app and the
    CLI, which mount the modules) may also import the package itself, i.e. its ``MODULE``."""

    type_name = "through_entry"

    packages = fields.ListField(subfield=fields.StringField())
    entry = fields.StringField()
    exempt = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        exempt = [str(e) for e in (self.exempt or [])]  # type: ignore[attr-defined]
        broken: list[dict[str, Any]] = []
        for package in [str(p) for p in self.packages]:  # type: ignore[attr-defined]
            entry = f"{package}.{self.entry}"
            inside = {package} | graph.find_descendants(package)
            for imported in sorted(inside):
                if imported == entry or imported.startswith(entry + "."):
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(imported)):
                    if importer in inside or importer == package:
                        continue
                    mounting = any(importer == e or importer.startswith(e + ".") for e in exempt)
                    if mounting and imported == package:
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    broken.append(
                        {
                            "importer": importer,
                            "imported": imported,
                            "entry": entry,
                            "lines": [d["line_number"] for d in details],
                        }
                    )
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            lines = ", ".join(str(n) for n in item["lines"])
            output.print_error(
                f"{item['importer']} -> {item['imported']} (l. {lines}): use {item['entry']}",
                bold=False,
            )
            output.new_line()
