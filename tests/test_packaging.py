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
