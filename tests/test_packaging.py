"""The wheel carries the templates and config defaults, and an installed copy finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.mark.timeout(180)
def test_wheel_ships_templates_and_config_and_finds_them_when_installed(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("digest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("digest/_resources/templates/email/digest.html.j2", "digest/_resources/templates/web/base.html.j2",
                   "digest/_resources/config/digest.toml", "digest/_resources/config/feeds.toml",
                   "digest/_resources/config/demo/feeds.toml", "digest/store/migrations/env.py"):
        assert needed in names, needed
    # unpacked as an installation would be, away from the checkout: resources resolve inside it
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import digest.resources as r, digest.config as c; "
            "print(r.templates_dir()); print(r.config_dir()); print(c.load_config(env={}).newsletter.title)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out[0] == str(site / "digest" / "_resources" / "templates")
    assert out[1] == str(site / "digest" / "_resources" / "config")
    assert out[2] == "Cyber Digest"


# ---- run-time dependencies -------------------------------------------------------------------------
def _declared() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]


def _name(dist: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", dist).lower()


def _closure_as_old_pip_sees_it(declared: list[str]) -> set[str]:
    """Every distribution pip 23.2 (what ``python3 -m venv`` brings) installs for ``declared``.

    Resolved over the installed metadata. An extra counts only where the requirer spells it as the
    provider's metadata does: pip 23.2 does not normalise extra names, which is how justext's
    ``lxml[html_clean]`` missed lxml's ``html-clean`` extra and left lxml_html_clean out.
    """
    import importlib.metadata as md
    import re

    from packaging.requirements import Requirement

    extra_re = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
    seen: set[tuple[str, str]] = set()
    dists: set[str] = set()
    todo = [(Requirement(r), "") for r in declared]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None:
            wanted = extra_re.findall(str(req.marker))
            if wanted and extra not in wanted:
                continue
            if not req.marker.evaluate({"extra": extra}):
                continue
        name = _name(req.name)
        for ex in ["", *sorted(req.extras)]:
            if (name, ex) in seen:
                continue
            seen.add((name, ex))
            dists.add(name)
            try:
                requires = md.distribution(req.name).requires or []
            except md.PackageNotFoundError:
                continue
            provided = md.distribution(req.name).metadata.get_all("Provides-Extra") or []
            if ex and ex not in provided:
                continue  # pip 23.2: "does not provide the extra"
            todo.extend((Requirement(r), ex) for r in requires)
    return dists


def _third_party_imports(tree_root: Path) -> set[str]:
    """Top-level names of the non-stdlib modules the package's code imports (anywhere in a file)."""
    import ast

    names: set[str] = set()
    for path in tree_root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("digest", "__future__")}


def test_every_directly_imported_package_is_named_in_pyproject() -> None:
    import importlib.metadata as md

    owners = md.packages_distributions()
    declared = {_name(r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip())
                for r in _declared()}
    missing = {f"{mod} ({', '.join(owners.get(mod, ['?']))})" for mod in _third_party_imports(ROOT / "digest")
               if not declared & {_name(d) for d in owners.get(mod, [mod])}}
    assert not missing, f"imported by digest/ but not in [project] dependencies: {sorted(missing)}"


OPTIONAL_WHEN_PRESENT = {"brotli", "brotlicffi", "zstandard"}


@pytest.mark.timeout(120)
def test_every_package_imported_at_run_time_is_installed_by_the_declared_dependencies() -> None:
    """Import every module and run an extraction (justext and lxml.html.clean load lazily), then map
    sys.modules to distributions: each must be one pip 23.2 installs for pyproject's dependencies."""
    code = (
        "import importlib, pkgutil, sys, json, digest\n"
        "for m in pkgutil.walk_packages(digest.__path__, 'digest.'):\n"
        "    if '.migrations' not in m.name and not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "from digest.ingest.extract import extract_article\n"
        "html = '<html><body><article>' + '<p>Attackers exploited a flaw in the gateway. </p>' * 40 + "
        "'</article></body></html>'\n"
        "extract_article(html.encode(), 'https://example.org/a')\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )  # _distutils_hack is loaded by setuptools' .pth file at start-up, not by digest
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=ROOT).stdout
    import importlib.metadata as md
    import json

    owners = md.packages_distributions()
    installed = _closure_as_old_pip_sees_it(_declared())
    used = {_name(d) for mod in json.loads(out.splitlines()[-1]) if mod != "_distutils_hack"
            for d in owners.get(mod, [])}
    used -= {"digest"}
    # optional accelerators a library imports only when something else installed them (httpx tries
    # brotli and zstandard; the dev extra's newspaper4k brings brotli): digest never needs them, and
    # its fetcher refuses br and zstd bodies whatever is installed
    used -= OPTIONAL_WHEN_PRESENT
    assert "lxml-html-clean" in used  # the check sees lazily imported packages
    assert not used - installed, f"imported at run time, not installed by pyproject: {sorted(used - installed)}"


def _pypi_reachable() -> bool:
    import socket

    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pip_install_in_a_fresh_venv_with_its_stock_pip_then_demo_works(tmp_path: Path) -> None:
    """What an operator does: ``python3 -m venv``, ``pip install .`` with the pip it brings (no upgrade)."""
    import shutil

    if not _pypi_reachable():
        pytest.skip("pypi.org is not reachable: the fresh-venv install needs the network")
    python = shutil.which("python3") or sys.executable
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
    src = tmp_path / "src"  # a clean copy: no build/ or egg-info leftovers from the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", "*.egg-info"))
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(src)], check=False,
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    demo = subprocess.run([str(venv / "bin" / "digest"), "demo", "--dir", str(tmp_path / "demo")],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert demo.returncode == 0, (demo.stdout + demo.stderr)[-2000:]
    assert (tmp_path / "demo" / "outbox").is_dir()
