"""Issue 15's target on real data, as a slow test: the July 2025 feed snapshots plus a farm of AnnoCTR
reports, polled and composed through the CLI (bench/issue.py does the work; skips without ../shared)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import ROOT, shared_path

pytestmark = pytest.mark.slow


def bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_issue", ROOT / "bench" / "issue.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_sharepoint_actors_each_head_a_section_nothing_twice_html_under_budget(tmp_path: Path) -> None:
    shared_path("corpus", "feeds", "microsoftsecurity.xml")
    shared_path("tools", "feedfarm.py")
    shared_path("corpus", "annoctr", "text")
    b = bench()
    run = b.toolshell_run(tmp_path)
    assert run is not None
    m, _polled, _dry, _out = run
    for name in ("Linen Typhoon", "Violet Typhoon", "Storm-2603"):
        assert b.in_heads(m, name), (name, m["heads"])
    assert m["twice"] == []
    assert len(m["stories"]) <= 25 and m["html_bytes"] < 100_000
    assert any("SharePoint" in s["headline"] for s in m["stories"])
