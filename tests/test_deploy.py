"""deploy/: the systemd units, the Dockerfile, the compose file, the proxy examples and the config.

Parsed and checked against the project itself (the commands they run exist with those options,
the config they mount loads, the image copies what the package build needs); nothing is built or
fetched from the network.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from digest.cli.main import cli
from digest.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = {"worker": DEPLOY / "systemd" / "digest-worker.service", "web": DEPLOY / "systemd" / "digest-web.service"}


def check_command(argv: list[str], subcommand: str) -> None:
    """``argv`` is a `digest` command line whose subcommand and options exist (checked with --help)."""
    assert Path(argv[0]).name == "digest", argv
    assert subcommand in argv, argv
    result = CliRunner().invoke(cli, [*argv[1:], "--help"])
    assert result.exit_code == 0, (argv, result.output)
    assert "Usage:" in result.output


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


@pytest.mark.parametrize("name", sorted(UNITS))
def test_systemd_units(name: str) -> None:
    u = unit(UNITS[name])
    assert {"Unit", "Service", "Install"} <= set(u.sections())
    for section, key in [("Unit", "Description"), ("Unit", "After"), ("Service", "ExecStart"), ("Service", "User"),
                         ("Service", "WorkingDirectory"), ("Service", "Restart"), ("Service", "EnvironmentFile"),
                         ("Install", "WantedBy")]:
        assert u.get(section, key, fallback=""), f"{UNITS[name].name}: [{section}] {key} is missing"
    svc = u["Service"]
    argv = shlex.split(svc["ExecStart"])
    assert argv[0].startswith("/"), "systemd wants an absolute ExecStart"
    check_command(argv, "worker" if name == "worker" else "serve")
    assert svc["User"] != "root" and svc["WorkingDirectory"].startswith("/")
    assert svc["Environment"].startswith("DIGEST_CONFIG=/")
    assert u["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in u["Unit"]["After"]
    if name == "worker":  # the first SIGTERM lets the running job finish: give it time before the SIGKILL
        assert svc["KillSignal"] == "SIGTERM" and int(svc["TimeoutStopSec"]) >= 60
    else:  # behind the proxy: loopback only, the proxy's forwarded headers trusted
        assert argv[argv.index("--host") + 1] == "127.0.0.1"
        assert argv[argv.index("--proxy-ips") + 1] == "127.0.0.1"


def test_the_deploy_config_loads() -> None:
    env = {"DIGEST_DATABASE_URL": "postgresql+psycopg://digest:pw@db/digest",
           "DIGEST_SECURITY_SECRET_KEY": "k" * 32}
    config = load_config(DEPLOY / "digest.toml", env=env)
    assert config.newsletter.base_url.startswith("https://")
    assert config.database.url.startswith("postgresql+psycopg://")
    assert config.smtp.dkim_selector and config.smtp.dkim_domain and config.smtp.dkim_key_file
    assert config.smtp.starttls or config.smtp.tls
    # the secrets example names only keys digest knows (a typo there would stop every start)
    for line in (DEPLOY / "digest.env.example").read_text(encoding="utf-8").splitlines():
        if line.startswith("DIGEST_"):
            var, _, value = line.partition("=")
            load_config(DEPLOY / "digest.toml", env={**env, var: value if var != "DIGEST_SECURITY_SECRET_KEY"
                                                     else "k" * 32})


def test_compose_has_postgres_worker_and_web() -> None:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = data["services"]
    assert {"db", "worker", "web"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert "healthcheck" in services["db"]
    for name, sub in (("worker", "worker"), ("web", "serve")):
        svc = services[name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
        check_command(svc["command"], sub)
        url = svc["environment"]["DIGEST_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
        assert svc["depends_on"]["db"]["condition"] == "service_healthy"
        mounts = {m.split(":")[1] for m in svc["volumes"]}
        assert svc["environment"]["DIGEST_CONFIG"] in mounts
    web = services["web"]
    port = web["command"][web["command"].index("--port") + 1]
    assert any(p.endswith(f":{port}") and p.startswith("127.0.0.1:") for p in web["ports"])
    assert "/healthz" in json.dumps(web["healthcheck"])
    assert services["worker"].get("stop_grace_period")


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_installs_the_package_and_runs_digest() -> None:
    steps = _instructions((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.1")
    kinds = [k for k, _ in steps]
    assert "CMD" in kinds and "USER" in kinds
    assert dict(steps)["USER"] != "root"
    check_command(json.loads(dict(steps)["CMD"]), "worker")
    runs = " ".join(rest for k, rest in steps if k == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs)
    copied = {p for k, rest in steps if k == "COPY" for p in rest.split()[:-1]}
    # what the package build reads: pyproject, the readme it names, the package and the force-included folders
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", project["project"]["readme"],
              *project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"],
              *project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]}
    assert needed <= copied, needed - copied
    ignored = {ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")}
    assert not (needed & ignored)


def test_reverse_proxy_examples_point_at_serve() -> None:
    port = shlex.split(unit(UNITS["web"])["Service"]["ExecStart"])
    port_no = port[port.index("--port") + 1]
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for text in (caddy, nginx):
        body = re.sub(r"#[^\n]*", "", text)
        assert body.count("{") == body.count("}")
    assert re.search(rf"reverse_proxy\s+127\.0\.0\.1:{port_no}\b", caddy)
    assert f"proxy_pass http://127.0.0.1:{port_no};" in nginx
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "Host"):
        assert f"proxy_set_header {header} " in nginx
    host = re.sub(r"^https://", "", load_config(DEPLOY / "digest.toml", env={}).newsletter.base_url).rstrip("/")
    assert caddy.count(host) >= 1 and f"server_name {host};" in nginx


def test_the_demo_says_how_to_see_its_web_pages_and_they_answer_its_links(tmp_path: Path) -> None:
    """README "After the demo": serve the demo's database; the rendered issue's links open its pages."""
    from test_web import TestClient

    from digest.store import Store
    from digest.web import create_app

    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cfg = tmp_path / "digest.toml"
    assert f"web pages: digest --config {cfg} serve" in result.output
    assert "for the demo only" in result.output
    html = next(tmp_path.glob("outbox/*/digest.html")).read_text(encoding="utf-8")
    config = load_config(cfg)
    base = config.newsletter.base_url.rstrip("/")
    links = re.findall(re.escape(base) + r"(/(?:preferences|unsubscribe)/[A-Za-z0-9_.\-]+)", html)
    assert {p.split("/")[1] for p in links} == {"preferences", "unsubscribe"}
    store = Store.open(config)
    try:
        with TestClient(create_app(config, store), base_url=base) as c:
            page = c.get(next(p for p in links if p.startswith("/preferences/")))
            assert page.status_code == 200 and "Your preferences" in page.text and "reader@example.org" in page.text
            assert "Jewelbug" in c.get(next(p for p in links if p.startswith("/preferences/")) + "?q=Earth+Alux").text
            assert c.get("/archive/").status_code == 200
    finally:
        store.close()
