"""``digest actors ...``: detect, show, links, unlink, update-kb, eval.

``detect [FILE|-]`` reads JSON lines ``{"id", "title", "text"}`` as one batch (a link stated in
any line applies to all) and writes one JSON line per input::

    {"id": ..., "actors": [{"id", "name", "aliases": [{"name", "vendor"}], "mentions", "country"}]}

A bad line gets a one-line error on stderr naming its line number; the other lines still run.

``links [NAME]`` lists the alias links learned from articles (each with its sentence and article);
``unlink A B`` removes the links between two names and keeps a refusal, so that the same statement
in a later article is not learned again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from digest.intel.actors.kb import GALAXIES, validate_galaxy
from digest.models import ActorHit

MAX_GALAXY_BYTES = 64 * 1024 * 1024

actors = click.Group("actors", help="Recognise threat actors: detect, show, links, unlink, update-kb, eval.")


def _kb_dir(ctx: click.Context) -> Path | None:
    cfg = getattr(ctx.obj, "config", None)
    if cfg is None:
        return None
    path = cfg.path("var/kb")
    return path if path.is_dir() else None


def _recognizer(ctx: click.Context):
    from digest.intel.actors.recognize import ActorRecognizer

    return ActorRecognizer.default(_kb_dir(ctx))


def hit_json(hit: ActorHit) -> dict[str, Any]:
    """The JSON shape of one actor in ``detect``'s output."""
    return {
        "id": hit.id,
        "name": hit.name,
        "aliases": [{"name": a.name, "vendor": a.vendor} for a in hit.aliases],
        "mentions": list(hit.mentions),
        "country": hit.country,
    }


@actors.command("detect")
@click.argument("source", default="-", type=click.Path(allow_dash=True, dir_okay=False))
@click.pass_context
def detect_cmd(ctx: click.Context, source: str) -> None:
    """Detect actors in JSON lines {"id", "title", "text"} from FILE or standard input."""
    try:
        if source == "-":
            raw = sys.stdin.read()
        else:
            raw = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {source}: {exc}") from None
    docs: list[tuple[str, str, str]] = []
    ids: list[Any] = []  # the ids as given, in input order
    failed = 0
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise TypeError("expected a JSON object")
            doc_id = obj.get("id")
            title, text = obj.get("title", "") or "", obj.get("text", "") or ""
            if doc_id is None or not isinstance(title, str) or not isinstance(text, str):
                raise ValueError('expected {"id", "title", "text"} with string title and text')
        except (json.JSONDecodeError, ValueError, TypeError, RecursionError) as exc:
            msg = str(exc).splitlines()[0]
            click.echo(f"line {n}: bad JSON line: {msg}", err=True)
            failed += 1
            continue
        docs.append((str(len(docs)), title, text))  # keys by position: ids may repeat or not be strings
        ids.append(doc_id)
    rec = _recognizer(ctx)
    results = rec.detect_batch(docs)
    for (key, _t, _x), doc_id in zip(docs, ids):
        click.echo(json.dumps({"id": doc_id, "actors": [hit_json(h) for h in results[key]]}, ensure_ascii=False))
    if failed:
        ctx.exit(1)


def _stored_links(ctx: click.Context) -> list:
    try:
        store = ctx.obj.open_store()
        return list(store.alias_links())
    except Exception:  # noqa: BLE001 - the store may not exist or not keep links yet
        return []


@actors.command("show")
@click.argument("name")
@click.pass_context
def show_cmd(ctx: click.Context, name: str) -> None:
    """Print the canonical actor for NAME, its aliases with vendors, origin and stored articles."""
    rec = _recognizer(ctx)
    hit = rec.lookup(name, _stored_links(ctx))
    if hit is None:
        raise click.ClickException(f"no actor known as {name!r}")
    click.echo(f"{hit.name}  [{hit.id}]")
    click.echo(f"Suspected origin: {hit.country or 'unknown'}")
    if hit.motivation:
        click.echo(f"Motivation: {hit.motivation}")
    others = [a for a in hit.aliases if a.name != hit.name]
    if others:
        click.echo("Also known as:")
        for a in others:
            click.echo(f"  {a.name}" + (f" ({a.vendor})" if a.vendor else ""))
    if hit.description:
        desc = " ".join(hit.description.split())
        click.echo(f"About: {desc[:400]}{'...' if len(desc) > 400 else ''}")
    try:
        store = ctx.obj.open_store()
        articles = store.articles_for_actor(hit.id, limit=20)
    except AttributeError:
        articles = None
    except Exception as exc:  # noqa: BLE001 - a missing database must not hide the actor
        click.echo(f"Articles: unavailable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        articles = None
    if articles is not None:
        click.echo("Articles:" if articles else "Articles: none stored")
        for a in articles:
            when = (a.published_at or a.fetched_at).date().isoformat()
            click.echo(f"  {when}  {a.title}  {a.url}")


def _open_store(ctx: click.Context):
    try:
        return ctx.obj.open_store()
    except Exception as exc:  # noqa: BLE001 - any store problem is one line for the operator
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise click.ClickException(f"cannot open the store: {msg}") from None


def _name_keys(rec, name: str) -> set[str]:
    """The name and every name the knowledge base gives its actor (learned links left out)."""
    from digest.intel.actors.kb import norm

    keys = {norm(name)}
    hit = rec.lookup(name)
    if hit is not None:
        keys |= {norm(a.name) for a in hit.aliases} | {norm(hit.name)}
    return keys - {""}


@actors.command("links")
@click.argument("name", required=False)
@click.pass_context
def links_cmd(ctx: click.Context, name: str | None) -> None:
    """List the alias links learned from articles (about NAME's actor when given), with their sentence."""
    from digest.intel.actors.kb import norm

    store = _open_store(ctx)
    rows = store.link_rows()
    if name:
        keys = _name_keys(_recognizer(ctx), name)
        rows = [(link, art) for link, art in rows if norm(link.name_a) in keys or norm(link.name_b) in keys]
    if not rows:
        click.echo(f"no learned links{f' for {name}' if name else ''}")
        return
    for link, art in rows:
        rel = "unlinked (refused)" if link.relation == store.REFUSED else link.relation
        vendor = f"  [{link.vendor}]" if link.vendor else ""
        click.echo(f"{link.name_a}  ~{rel}~  {link.name_b}{vendor}")
        if art is not None:
            when = (art.published_at or art.fetched_at).date().isoformat()
            click.echo(f"    article: {when}  {art.title}  {art.url}")
        if link.sentence:
            click.echo(f"    sentence: {' '.join(link.sentence.split())[:300]}")


@actors.command("unlink")
@click.argument("name_a")
@click.argument("name_b")
@click.pass_context
def unlink_cmd(ctx: click.Context, name_a: str, name_b: str) -> None:
    """Remove the learned links between NAME_A and NAME_B (or their actors' names); they stay removed."""
    from digest.intel.actors.kb import norm

    store = _open_store(ctx)
    rec = _recognizer(ctx)
    ka, kb_ = _name_keys(rec, name_a), _name_keys(rec, name_b)
    pairs = []
    for link, _art in store.link_rows():
        a, b = norm(link.name_a), norm(link.name_b)
        if link.relation != store.REFUSED and ((a in ka and b in kb_) or (a in kb_ and b in ka)):
            pairs.append((link.name_a, link.name_b))
    if not pairs:
        raise click.ClickException(f"no learned link between {name_a!r} and {name_b!r} (see `digest actors links`)")
    removed = store.unlink(pairs)
    for link in removed:
        click.echo(f"removed {link.name_a}  ~{link.relation}~  {link.name_b}; it will not be learned again")


def _read_source(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            with httpx.stream("GET", source, follow_redirects=True, timeout=30.0) as resp:
                if resp.status_code != 200:
                    raise click.ClickException(f"cannot fetch {source}: HTTP {resp.status_code}")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_GALAXY_BYTES:
                        raise click.ClickException(f"cannot fetch {source}: larger than {MAX_GALAXY_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot fetch {source}: {exc}") from None
    path = Path(source)
    try:
        if path.stat().st_size > MAX_GALAXY_BYTES:
            raise click.ClickException(f"{source}: larger than {MAX_GALAXY_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc.strerror or exc}") from None


def _install(kb_dir: Path, name: str, data_bytes: bytes, kind: str, record: dict[str, Any]) -> None:
    """Write one knowledge-base file atomically and record its version in versions.json."""
    kb_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=kb_dir, delete=False, suffix=".tmp") as fh:
        fh.write(data_bytes)
        tmp = Path(fh.name)
    tmp.replace(kb_dir / name)
    versions_path = kb_dir / "versions.json"
    try:
        versions = json.loads(versions_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        versions = {}
    versions[kind] = record
    versions_path.write_text(json.dumps(versions, indent=2, sort_keys=True), encoding="utf-8")


@actors.command("update-kb")
@click.argument("source")
@click.pass_context
def update_kb_cmd(ctx: click.Context, source: str) -> None:
    """Install a newer MISP galaxy cluster file (FILE or URL) over the packaged one.

    Microsoft's actor-name map (MicrosoftMapping.json: a list of "Threat actor name",
    "Origin/Threat", "Other names") is accepted too; its identities join the actors it names.
    """
    data_bytes = _read_source(source)
    try:
        data = json.loads(data_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{source}: not JSON ({str(exc).splitlines()[0]})") from None
    cfg = ctx.obj.config
    kb_dir = cfg.path("var/kb")
    if isinstance(data, list):  # Microsoft's actor-name map (MicrosoftMapping.json)
        from digest.intel.actors.kb import MS_MAPPING_FILE, parse_ms_mapping

        try:
            rows = parse_ms_mapping(data)
        except ValueError as exc:
            raise click.ClickException(f"{source}: {exc}") from None
        _install(kb_dir, MS_MAPPING_FILE, data_bytes, "microsoft-mapping",
                 {"version": hashlib.sha256(data_bytes).hexdigest()[:12], "source": source, "actors": len(rows)})
        click.echo(f"installed Microsoft's actor-name map ({len(rows)} actors) into {kb_dir}")
        return
    why = validate_galaxy(data)
    if why:
        raise click.ClickException(f"{source}: {why}")
    kind = data.get("type") or data.get("name", "")
    if kind not in GALAXIES:
        raise click.ClickException(
            f"{source}: galaxy type {kind!r} is not one the knowledge base reads ({', '.join(GALAXIES)})")
    _install(kb_dir, f"{kind}.json", data_bytes, kind,
             {"version": data["version"], "source": source, "actors": len(data["values"])})
    click.echo(f"installed {kind} galaxy version {data['version']} ({len(data['values'])} entries) into {kb_dir}")


@actors.command("eval")
@click.option("--annoctr", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="AnnoCTR folder (default ../shared/corpus/annoctr).")
@click.option("--snippets", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Labelled snippets (default tests/data/actor_snippets.jsonl).")
@click.option("--split", type=click.Choice(["train", "dev", "test"]), default="test", show_default=True)
@click.pass_context
def eval_cmd(ctx: click.Context, annoctr: Path | None, snippets: Path | None, split: str) -> None:
    """Print precision, recall, alias recall and grouping beside the galaxy-lookup baseline."""
    from digest.eval.actors import run_eval

    run_eval(_recognizer(ctx), annoctr=annoctr, snippets=snippets, split=split, echo=click.echo)
