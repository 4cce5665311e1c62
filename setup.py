"""Packaging of the files kept at the top of the repository (the rest is in pyproject.toml).

The ontology, the data and the queries stay where they are in the repository
(ontology/, data/, queries/). A wheel needs them inside a package, so building one
copies them into kg/_resources/ of the build directory, never of the source tree;
kg.config finds them there when no checkout is at hand. Accepted change sets
(data/additions/) belong to a project, not to the package, and are left out.
YASGUI, installed by npm and never committed, is copied into webapp/vendor/yasgui/
when it was installed before the build; without it the SPARQL page uses a plain form.
Editable installs copy nothing: they read the checkout itself."""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
RESOURCES = ("ontology", "data", "queries")
SUFFIXES = {".ttl", ".csv", ".txt", ".rq"}          # what the sources are made of
LEFT_OUT = (Path("data") / "additions",)
YASGUI = HERE / "node_modules" / "@zazuko" / "yasgui" / "build"
YASGUI_FILES = ("yasgui.min.js", "yasgui.min.css")  # what the SPARQL page loads


def resource_files() -> list[Path]:
    """The source files a wheel carries, relative to the repository."""
    out = []
    for top in RESOURCES:
        for path in sorted((HERE / top).rglob("*")):
            rel = path.relative_to(HERE)
            if (path.is_file() and path.suffix in SUFFIXES and not path.name.startswith(".")
                    and not any(rel.is_relative_to(d) for d in LEFT_OUT)):
                out.append(rel)
    return out


class BuildWithResources(build_py):
    """build_py, then the sources and YASGUI copied into the packages being built."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib)
        shutil.rmtree(target / "kg" / "_resources", ignore_errors=True)  # no stale files
        for rel in resource_files():
            dest = target / "kg" / "_resources" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HERE / rel, dest)
        vendor = target / "webapp" / "vendor" / "yasgui"
        shutil.rmtree(vendor, ignore_errors=True)
        if all((YASGUI / name).is_file() for name in YASGUI_FILES):
            vendor.mkdir(parents=True)
            for name in YASGUI_FILES:
                shutil.copyfile(YASGUI / name, vendor / name)


setup(cmdclass={"build_py": BuildWithResources})
