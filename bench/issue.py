#!/usr/bin/env python3
"""Issue benchmark (prints figures; not a test): what an editor would check in a composed issue.

Everything runs through the real CLI (`digest poll`, `digest send --dry-run --since ...`) against
feeds served on 127.0.0.1, into a fresh SQLite database. Needs ../shared (skips without it).

toolshell
    The real July 2025 feed snapshots (../shared/corpus/feeds/*.xml, served as they are) plus a
    farm of AnnoCTR reports (../shared/tools/feedfarm.py, 11 feeds x 10 pages). Checks: Linen
    Typhoon, Violet Typhoon and Storm-2603 each in a section head of the text part (its heading
    line or aka lines); no story listed twice in full; HTML under 100 KB.
week
    Each held-out test week (``--split dev``: each dev week) of the hand labels (tests/data/realnews/weeks.jsonl, "split": "test",
    "full": true): its newsdatahub items as one RSS feed per outlet (title, link to a page whose
    text is the item's description, the description), dates shifted so the week ends now, then
    `send --dry-run --since 7d`. Checks: every hand-picked top story in the issue and within its
    first 8 stories; no labelled ad; at most 30 stories; HTML under 100 KB. A story's place is
    where a reader meets it: the top-stories block first, then the full items in reading order
    (the item's own position among the full items is printed beside it).

    python bench/issue.py [toolshell|week|all] [--labels DIR] [--keep]

The labels and their loader (digest.eval.realnews) come from the project; ``--labels`` points at
another checkout's tests/data/realnews (its digest/eval/realnews.py is used when the project
has none).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIGEST_SHARED_DIR") or ROOT.parent / "shared")
PY = sys.executable
HTML_LIMIT = 100_000
ACTORS = ("Linen Typhoon", "Violet Typhoon", "Storm-2603")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a loopback port (feedfarm's server: Last-Modified and 304)."""
    port = free_port()
    tool = SHARED / "tools" / "feedfarm.py"
    cmd = [PY, str(tool), "serve", str(directory), "--port", str(port)] if tool.exists() else \
        [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(directory)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("the feed server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def digest(cfg: Path, *args: str) -> str:
    """Run the real CLI; its output (exits on failure)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([PY, "-c", "from digest.cli.main import main; main()", "--config", str(cfg), *args],
                       check=False, capture_output=True, text=True, cwd=ROOT, env=env)
    if r.returncode != 0:
        raise SystemExit(f"digest {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def write_config(tmp: Path, feeds: list[tuple[str, str, str]]) -> Path:
    (tmp / "feeds.toml").write_text("".join(f'[[feed]]\nname = {json.dumps(n)}\nurl = "{u}"\nkind = "{k}"\n\n'
                                            for u, n, k in feeds), encoding="utf-8")
    cfg = tmp / "digest.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp / "digest.db"}"\n'
                   f'[feeds]\nallow_private_networks = true\nfile = "{tmp / "feeds.toml"}"\n'
                   f'extract_workers = 2\ntimeout_seconds = 5.0\nmax_entries_per_feed = 1000\n'
                   f'[outbox]\ndir = "{tmp / "outbox"}"\n', encoding="utf-8")
    return cfg


# ---- reading the text part -----------------------------------------------------------------------

def text_stories(text: str) -> list[dict[str, Any]]:
    """The full items of the text part in reading order: headline and every URL under it."""
    body = text.split("\n--\n")[0]
    stories: list[dict[str, Any]] = []
    for line in body.splitlines():
        if line.startswith("* "):
            stories.append({"headline": line[2:].split(" [UPDATE")[0].strip(), "urls": []})
        elif line.startswith(("==", "-> ")) or (line and not line.startswith(" ")):
            if stories and stories[-1].get("open", True):
                stories[-1]["open"] = False
        elif stories and stories[-1].get("open", True):
            stories[-1]["urls"] += re.findall(r"https?://\S+", line)
    return stories


def section_heads(text: str) -> list[str]:
    """The heads of the actor sections: each heading line with its aka lines, joined."""
    heads: list[str] = []
    band = ""
    for para in re.split(r"\n\s*\n", text.split("\n--\n")[0]):
        first = para.strip().splitlines()[0] if para.strip() else ""
        if first.startswith("=="):
            band = first
            continue
        if band == "== THREAT ACTORS ==" and first and not first.startswith(("* ", "-> ", " ")):
            heads.append(" ".join(line.strip() for line in para.strip().splitlines()))
    return heads


def top_block(text: str) -> list[str]:
    """The headlines of the top-stories block at the head of the text part."""
    m = re.search(r"== TOP STORIES ==\n\n(.*?)\n\n", text, re.DOTALL)
    if not m:
        return []
    lines = re.sub(r"\n {3}", " ", m.group(1)).splitlines()
    return [re.sub(r"^\d+\. ", "", line).strip() for line in lines if line.strip()]


def measure(out: Path) -> dict[str, Any]:
    """Figures of a dry run's files. A story's place is where a reader meets it: the top-stories
    block first (one line each, linking to the item), then the full items in reading order."""
    text = (out / "digest.txt").read_text(encoding="utf-8")
    page = (out / "digest.html").read_bytes()
    stories = text_stories(text)
    names = [s["headline"] for s in stories]
    top = top_block(text)
    order = [*(s for h in top for s in stories if s["headline"] == h), *(s for s in stories if s["headline"] not in top)]
    for i, s in enumerate(stories, 1):
        s["item"] = i
    for i, s in enumerate(order, 1):
        s["place"] = i
    return {"text": text, "stories": stories, "heads": section_heads(text), "html_bytes": len(page), "top": top,
            "twice": sorted({n for n in names if names.count(n) > 1}), "words": len(text.split())}


# ---- toolshell: the July 2025 snapshots plus an AnnoCTR farm ----------------------------------------

def toolshell_run(tmp: Path) -> tuple[dict[str, Any], str, str, Path] | None:
    """Poll the snapshots and the farm, dry-run over July 2025 onwards: (figures, poll line, dry-run
    line, output folder); None when ../shared lacks the material."""
    feeds_dir = SHARED / "corpus" / "feeds"
    tool = SHARED / "tools" / "feedfarm.py"
    if not feeds_dir.is_dir() or not tool.exists():
        return None
    site = tmp / "site"
    (site / "snap").mkdir(parents=True)
    for p in sorted(feeds_dir.glob("*.xml")):
        shutil.copy(p, site / "snap" / p.name)
    with serve(site) as base:
        port = int(base.rsplit(":", 1)[1])
        texts = str(SHARED / "corpus" / "annoctr" / "text" / "*" / "*.txt")
        subprocess.run([PY, str(tool), "build", str(site / "farm"), "--feeds", "11", "--items", "10",
                        "--texts", texts, "--port", str(port)], check=True, stdout=subprocess.DEVNULL)
        farm = [u.replace(f"{base}/", f"{base}/farm/") for u in (site / "farm" / "feeds.txt").read_text().split()]
        # feedfarm writes links as base/a/...: serve the farm's pages there too
        shutil.copytree(site / "farm" / "a", site / "a")
        feeds = [(f"{base}/snap/{p.name}", p.stem, "vendor" if p.stem in ("microsoftsecurity", "crowdstrike",
                                                                          "proofpoint") else
                  "government" if p.stem == "cybersecurity-advisories" else "news")
                 for p in sorted(feeds_dir.glob("*.xml"))]
        feeds += [(u, f"Farm {i}", "news") for i, u in enumerate(farm)]
        cfg = write_config(tmp, feeds)
        polled = digest(cfg, "poll")
        out = tmp / "out-toolshell"
        dry = digest(cfg, "send", "--dry-run", "--no-poll", "--since", "2025-07-01", "--out", str(out))
    return measure(out), polled.strip().splitlines()[-1], dry.strip().splitlines()[-1], out


def in_heads(m: dict[str, Any], name: str) -> list[str]:
    """The section heads (heading or aka lines) that name ``name``."""
    return [h for h in m["heads"] if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", h)]


def toolshell(tmp: Path, keep: bool) -> bool:
    run = toolshell_run(tmp)
    if run is None:
        print("toolshell: skipped, ../shared/corpus/feeds or ../shared/tools/feedfarm.py is absent")
        return True
    m, polled, dry, out = run
    print(f"toolshell: {polled}")
    print(f"toolshell: {dry}")
    ok = True
    for name in ACTORS:
        found = in_heads(m, name)
        ok &= bool(found)
        print(f"  {name:15} in a section head: {'yes' if found else 'NO'}{(' - ' + found[0][:100]) if found else ''}")
    sp = next((i for i, s in enumerate(m["stories"], 1) if "SharePoint" in s["headline"]), None)
    print(f"  the SharePoint (ToolShell) story: position {sp} of {len(m['stories'])} full items")
    print(f"  stories listed twice in full: {len(m['twice'])} {m['twice'][:3]}")
    print(f"  HTML {m['html_bytes']:,} bytes (limit {HTML_LIMIT:,}); text {m['words']:,} words")
    ok &= not m["twice"] and m["html_bytes"] < HTML_LIMIT
    if keep:
        print(f"  files: {out}")
    return ok


# ---- week: a held-out labelled week as feeds ------------------------------------------------------

def realnews(labels: Path):  # type: ignore[no-untyped-def]
    try:
        from digest.eval import realnews as mod
    except ImportError:  # not merged here yet: the labels' checkout's module, run inside this package
        import importlib.util

        spec = importlib.util.spec_from_file_location("digest.eval.realnews",
                                                      labels.parents[2] / "digest" / "intel" / "realnews.py")
        if spec is None or spec.loader is None:
            raise SystemExit(f"no digest/eval/realnews.py beside {labels}") from None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["digest.eval.realnews"] = mod
        spec.loader.exec_module(mod)
    return mod


def week_feeds(site: Path, base: str, items: list[Any], shift: timedelta) -> list[tuple[str, str, str]]:
    """One RSS feed per outlet; each item's page carries its description as the article text."""
    (site / "feeds").mkdir(parents=True, exist_ok=True)
    (site / "p").mkdir(exist_ok=True)
    by_outlet: dict[str, list[Any]] = {}
    for it in items:
        by_outlet.setdefault(it.source or "unknown", []).append(it)
    feeds = []
    for n, (outlet, its) in enumerate(sorted(by_outlet.items())):
        entries = []
        for it in its:
            slug = re.sub(r"[^a-z0-9]+", "-", it.key.lower()).strip("-")
            when = format_datetime((it.published + shift).astimezone(UTC), usegmt=True)
            (site / "p" / f"{slug}.html").write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(it.title)}</title></head>"
                f"<body><article><h1>{html.escape(it.title)}</h1><p>{html.escape(it.text)}</p></article></body></html>",
                encoding="utf-8")
            entries.append(f"<item><title>{html.escape(it.title)}</title><link>{base}/p/{slug}.html</link>"
                           f"<guid isPermaLink='false'>{html.escape(it.key)}</guid><pubDate>{when}</pubDate>"
                           f"<description>{html.escape(it.text)}</description></item>")
        (site / "feeds" / f"o{n:03d}.xml").write_text(
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>{html.escape(outlet)}</title><link>{base}/</link><description>x</description>"
            + "".join(entries) + "</channel></rss>", encoding="utf-8")
        feeds.append((f"{base}/feeds/o{n:03d}.xml", outlet, "news"))
    return feeds


def week(tmp: Path, labels: Path, keep: bool, split: str = "test") -> bool:
    if not (SHARED / "corpus" / "news").is_dir():
        print("week: skipped, ../shared/corpus/news is absent")
        return True
    if not (labels / "weeks.jsonl").exists():
        print(f"week: skipped, {labels}/weeks.jsonl is absent")
        return True
    rn = realnews(labels)
    corpus = rn.load_items(SHARED)
    rows = rn.load_labels(labels / "editorial.jsonl")
    ok = True
    for w in rn.load_weeks(labels / "weeks.jsonl"):
        if w.get("split") != split or not w.get("full"):
            continue
        start = datetime.fromisoformat(w["week_start"]).replace(tzinfo=UTC)
        end = start + timedelta(days=7)
        label = {r["key"]: r for r in rows}
        keys = [r["key"] for r in rows if r["key"].startswith("ndh:") and r["key"] in corpus
                and start <= corpus[r["key"]].published < end]
        items = [corpus[k] for k in keys]
        ads = {k for k in keys if label[k].get("sponsored")}
        shift = datetime.now(UTC) - timedelta(minutes=5) - end
        wdir = tmp / f"week-{w['week_start']}"
        site = wdir / "site"
        site.mkdir(parents=True)
        with serve(site) as base:
            cfg = write_config(wdir, week_feeds(site, base, items, shift))
            polled = digest(cfg, "poll")
            out = wdir / "out"
            dry = digest(cfg, "send", "--dry-run", "--no-poll", "--since", "7d", "--out", str(out))
        m = measure(out)
        url_key = {f"{base}/p/{re.sub(r'[^a-z0-9]+', '-', k.lower()).strip('-')}.html": k for k in keys}
        positions: dict[str, tuple[int, int]] = {}  # key -> (place, item position)
        for s in m["stories"]:
            for u in s["urls"]:
                if u in url_key:
                    positions.setdefault(url_key[u], (s["place"], s["item"]))
        print(f"week {w['week_start']}: {len(items)} labelled items from {len({i.source for i in items})} outlets, "
              f"{len(ads)} labelled ads; {polled.strip().splitlines()[-1]}")
        print(f"  {dry.strip().splitlines()[-1]}")
        tops = w.get("stories") or [{"key": k, "same": [], "what": k} for k in w.get("top", [])]
        places = []
        for t in tops:
            where = [positions[k] for k in [t["key"], *t.get("same", [])] if k in positions]
            place, item = min(where) if where else (None, None)
            places.append(place)
            at = f"#{place} (item {item})" if place else "MISSING"
            print(f"  top story {at:>15}: {t.get('what', t['key'])[:90]}")
        in_ads = sorted(k for k in ads if k in positions)
        n = len(m["stories"])
        good = all(p is not None and p <= 8 for p in places) and not in_ads and n <= 30 and \
            m["html_bytes"] < HTML_LIMIT
        print(f"  top stories in the issue: {sum(p is not None for p in places)}/{len(places)}, within the first 8: "
              f"{sum(p is not None and p <= 8 for p in places)}/{len(places)}; labelled ads in it: {len(in_ads)}; "
              f"stories {n} (max 30); HTML {m['html_bytes']:,} bytes; stories twice: {len(m['twice'])} "
              f"-> {'PASS' if good else 'FAIL'}")
        ok &= good
        if keep:
            print(f"  files: {out}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="all", choices=["toolshell", "week", "all"])
    ap.add_argument("--labels", type=Path, default=ROOT / "tests" / "data" / "realnews",
                    help="folder with editorial.jsonl and weeks.jsonl")
    ap.add_argument("--split", default="test", choices=["dev", "test"],
                    help="which labelled weeks (tune on dev; test is the held-out measure)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (issues to read)")
    a = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return
    tmp = Path(tempfile.mkdtemp(prefix="digest-bench-issue-"))
    ok = True
    try:
        if a.what in ("toolshell", "all"):
            ok &= toolshell(tmp / "toolshell", a.keep)
        if a.what in ("week", "all"):
            ok &= week(tmp, a.labels, a.keep, a.split)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("all targets met" if ok else "some targets missed (see above)")


if __name__ == "__main__":
    main()
