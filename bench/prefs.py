#!/usr/bin/env python3
"""Preferences page with the whole actor knowledge base (prints figures; not a test).

A fresh SQLite store with the packaged galaxies (1,359 actors), 300 actors stored from articles
(2,000 article mentions) and 300 learned alias links; one confirmed reader following 5 actors.
Measures, in-process through the ASGI app:

* the first page (the catalogue is built: the recognizer's knowledge base, links applied),
* a page without a search (the followed and the 24 most seen), a search that matches one actor
  ("REF7707") and one that matches most ("a": 40 shown),
* beside a baseline rendered in the same run: the same template listing every actor as a chip
  (what a page without search would have to send).

    python bench/prefs.py [--requests 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHIP = 'class="choice"'
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from digest.config import load_config
    from digest.intel.actors.kb import KnowledgeBase
    from digest.store import Actor, ActorLink, Article, ArticleActor, Feed, Store
    from digest.tokens import TokenSigner
    from digest.web import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-prefs-"))
    config = load_config(env={"DIGEST_DATABASE_URL": f"sqlite:///{tmp / 'b.db'}",
                              "DIGEST_SECURITY_SECRET_KEY": "b" * 32,
                              "DIGEST_NEWSLETTER_BASE_URL": "http://testserver"}, root=tmp)
    store = Store.open(config)
    kb = KnowledgeBase.build()
    rng = random.Random(7)
    actors = rng.sample(sorted(kb.actors.values(), key=lambda a: a.id), 300)
    with store.session() as s:
        feed = Feed(url="https://bench.example/feed.xml", name="Bench")
        s.add(feed)
        s.flush()
        s.add_all(Actor(id=a.id, name=a.name, country=a.country, aliases=[]) for a in actors)
        for n in range(2000):
            art = Article(feed_id=feed.id, guid=f"g{n}", url=f"https://bench.example/{n}", title=f"t{n}",
                          content_hash=f"h{n}", text="")
            s.add(art)
            s.flush()
            s.add(ArticleActor(article_id=art.id, actor_id=rng.choice(actors).id, mentions=[]))
        s.add_all(ActorLink(name_a=a.name, name_b=f"Cluster-{n:04d}", relation="same", vendor="")
                  for n, a in enumerate(actors))
        s.add_all([ActorLink(name_a="Jewelbug", name_b=n, relation="same", vendor="")
                   for n in ("Earth Alux", "CL-STA-0049", "REF7707")])
    sub, _ = store.add_subscriber("bench@example.org", confirmed=True)
    store.set_preferences(sub.id, {"mode": "custom", "actors": [a.id for a in actors[:5]], "countries": [],
                                   "topics": [], "frequency": "daily", "weekday": 0, "hour": 7, "timezone": "UTC"})
    path = "/preferences/" + TokenSigner(b"b" * 32).sign("preferences", sub.id, sub.token_nonce)
    app = create_app(config, store)
    print(f"preferences page: {len(kb.actors)} actors in the knowledge base, 300 stored, 2,000 mentions, "
          f"303 learned links, {args.requests} requests each, in-process (ASGI), 1 CPU")
    with TestClient(app) as client:
        t0 = time.perf_counter()
        first = client.get(path)
        print(f"  first page (catalogue built)          {1000 * (time.perf_counter() - t0):8.1f} ms  "
              f"{len(first.content) / 1024:6.1f} KiB  status {first.status_code}")
        for label, q in (("no search (followed + 24 most seen)", ""), ("search 'REF7707' (1 match)", "REF7707"),
                         ("search 'a' (most match, 40 shown)", "a")):
            lat = []
            size = 0
            for _ in range(args.requests):
                t = time.perf_counter()
                r = client.get(path + (f"?q={q}" if q else ""))
                lat.append(1000 * (time.perf_counter() - t))
                size = len(r.content)
            print(f"  {label:38s} p50 {statistics.median(lat):6.1f} ms  max {max(lat):6.1f} ms  "
                  f"{size / 1024:6.1f} KiB  chips {r.text.count(CHIP)}")
        # baseline: the same template with every actor as a chip
        web = app.state.web
        cat = web.catalogue.get()
        lat = []
        html = ""
        for _ in range(max(5, args.requests // 5)):
            t = time.perf_counter()
            html = web.env.get_template("web/preferences.html.j2").render(
                site_title="x", page_title="Your preferences", root="", csrf_field="csrf_token", csrf_token="t", email="bench@example.org",
                subscribed=True, status_label="confirmed", prefs={"mode": "all", "actors": [], "countries": [],
                                                                  "topics": [], "frequency": "daily", "weekday": 0,
                                                                  "hour": 7, "timezone": "UTC"},
                errors={}, saved=False, searching=False, query="", followed=[], results=cat.choices, total=0,
                more=0, known=len(cat), countries=cat.countries, topics={}, weekdays=(), timezones=(),
                unsubscribe_url="/u")
            lat.append(1000 * (time.perf_counter() - t))
        print(f"  baseline: every actor as a chip        p50 {statistics.median(lat):6.1f} ms  (render only)  "
              f"{len(html.encode()) / 1024:6.1f} KiB  chips {html.count(CHIP)}")
    store.close()


if __name__ == "__main__":
    main()
