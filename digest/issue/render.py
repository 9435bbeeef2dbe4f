"""Render an issue once: Jinja2 (autoescape) -> HTML with inlined CSS, and a plain-text part.

Per-subscriber links are placeholders (``PLACEHOLDERS``) substituted at send time, so the
template is rendered once per issue, not once per subscriber.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup

from digest.issue.compose import display_name, origin_label, stories_of, trim_issue
from digest.issue.rendered import PLACEHOLDERS, PREFERENCES, UNSUBSCRIBE, RenderedIssue  # noqa: F401 (re-exported)
from digest.models import IssueContent, Section, StoryItem
from digest.resources import templates_dir

#: after the preheader, so mail clients do not pull the masthead into the inbox preview line
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp;" * 60)
#: the HTML part stays under this many bytes (Gmail clips a message at about 102 KB and hides its
#: footer, with the unsubscribe link); LINK_ROOM is kept for the per-subscriber links put in later
HTML_BUDGET = 100_000
LINK_ROOM = 2_000
_ABSOLUTE = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)


#: a subject longer than this is cut at a word (mail clients show 60-90 characters; RFC 5322 asks
#: for lines under 78, and a subject this long still folds cleanly)
SUBJECT_MAX = 88


def _when(value: datetime | None, now: datetime) -> str:
    """When a story was published, as a date and time in the zone of ``now`` (the issue's date, in
    the schedule's zone): "28 Nov 14:05 CET".

    Absolute, not "3 h ago": a mail is read hours or days after it was sent. The year is shown
    only when it is not the issue's year.
    """
    if value is None:
        return ""
    local = value.astimezone(now.tzinfo) if now.tzinfo is not None and value.tzinfo is not None else value
    fmt = "%d %b %H:%M" if local.year == now.year else "%d %b %Y %H:%M"
    zone = local.strftime("%Z")
    return local.strftime(fmt) + (f" {zone}" if zone else "")


def _aka(story_or_actor: object) -> str:
    aliases = getattr(story_or_actor, "aliases", ())
    parts = [f"{a.name} ({a.vendor})" if a.vendor else a.name for a in aliases]
    return ", ".join(parts)


def _wrap(text: str, width: int = 72, indent: str = "", hanging: str | None = None) -> str:
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent,
                         subsequent_indent=indent if hanging is None else hanging,
                         break_long_words=False, break_on_hyphens=False)


def absolute_url(url: str, base_url: str) -> str:
    """``url`` when it is an absolute http(s) URL; otherwise the site's home page (no relative or
    ``javascript:`` links ever reach a mailbox)."""
    url = str(url or "").strip()
    return url if _ABSOLUTE.match(url) and not any(c in url for c in "\r\n\t <>\"") else base_url.rstrip("/") + "/"


def counts_line(issue: IssueContent) -> str:
    """'12 stories · 5 actors · 23 sources' (a zero count is left out, except stories)."""
    c = issue.counts
    parts = [f"{c.get('stories', 0)} {'story' if c.get('stories', 0) == 1 else 'stories'}"]
    for key, one, many in (("actors", "actor", "actors"), ("sources", "source", "sources"),
                           ("updates", "update", "updates")):
        n = c.get(key, 0)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    return " · ".join(parts)


@lru_cache(maxsize=4)
def environment(path: str | None = None) -> Environment:
    env = Environment(
        loader=FileSystemLoader(path or str(templates_dir())),
        autoescape=select_autoescape(["html", "htm", "xml", "html.j2", "xml.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = pass_context(lambda ctx, value: _when(value, ctx["issue"].date))
    env.filters["aka"] = _aka
    env.filters["wrap"] = _wrap
    env.filters["origin"] = origin_label
    env.filters["absurl"] = pass_context(lambda ctx, url: absolute_url(url, ctx["base_url"]))
    env.filters["urlquote"] = lambda s: quote(str(s), safe="")
    return env


def subject_for(issue: IssueContent) -> str:
    """'<title>, <date>: <the lead story>' (the first top story; the most important story)."""
    date = issue.date.strftime("%d %b %Y")
    stories = stories_of(issue)
    lead = next((s.headline for s in stories if issue.top and s.key == issue.top[0]),
                stories[0].headline if stories else "")
    subject = f"{issue.title}, {date}"
    if lead:
        subject += f": {lead}"
    return cap_subject(subject)


def cap_subject(subject: str, limit: int = SUBJECT_MAX) -> str:
    """``subject`` cut at the last word that fits in ``limit`` characters, with "…" (never mid-word)."""
    subject = " ".join(subject.split())
    if len(subject) <= limit:
        return subject
    cut = subject[: limit].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    if len(cut) < limit // 2:  # one very long word: cut it rather than lose the subject
        cut = subject[: limit - 1]
    return cut + "…"


def cve_url(cve: str) -> str:
    return f"https://www.cve.org/CVERecord?id={quote(cve)}"


def also_names(story: StoryItem, titles: dict[str, str] | None = None) -> list[str]:
    """The other actors a story is about, for its "also:" line: each as its section is headed, with
    the name the story used when that differs ("APT27 (Linen Typhoon)"), so both can be found."""
    out = []
    for a in story.actors:
        if a.id not in story.named or a.id in story.together:  # those head the story's own section
            continue
        title = (titles or {}).get(a.id) or display_name(a, a.mentions)
        used = next((m for m in a.mentions if m.casefold() != title.casefold()), None)
        out.append(f"{title} ({used})" if used else title)
    return out


def cve_line(story: StoryItem) -> str:
    """'CVE-2025-1 (exploited), CVE-2025-2': the flag on each CVE known exploited, not on the list.

    A story stored before the per-CVE judgment has only a story-wide flag, shown after the list.
    """
    line = ", ".join(f"{c} (exploited)" if c in story.exploited_cves else c for c in story.cves)
    return line + (" (exploited)" if story.exploited and not story.exploited_cves else "")


def more_label(issue: IssueContent, n: int) -> str:
    """'12 more stories this week' (today, for an issue of a day or two)."""
    hours = (issue.period_end - issue.period_start).total_seconds() / 3600
    when = "today" if hours <= 48 else "this week" if hours <= 8 * 24 else "in this issue"
    return f"{n} more {'story' if n == 1 else 'stories'} {when}"


def render_issue(issue: IssueContent, *, base_url: str, archive_url: str | None = None,
                 now: datetime | None = None, archive: bool = False, notice: str = "",
                 postal_address: str = "") -> RenderedIssue:
    """Render the HTML (CSS inlined) and text parts of an issue, with per-subscriber placeholders.

    ``archive`` renders the web archive's page of the issue: the stories that did not fit are
    listed there one line each (the mail has one line linking to it), and the footer is the
    archive's (subscribe, all issues), not a subscriber's (no preferences or unsubscribe links).
    ``notice`` is a paragraph shown under the masthead (the welcome mail's greeting).
    ``postal_address`` is printed in the footer (CAN-SPAM asks a commercial mail for one).
    """
    env = environment()
    now = now or issue.date
    stories: list[StoryItem] = [s for sec in issue.sections for s in sec.stories]
    home: dict[str, tuple[StoryItem, Section]] = {s.key: (s, sec) for sec in issue.sections for s in sec.stories}
    actor_titles = {a.id: a.name for sec in issue.sections if sec.actor is not None for a in (sec.actor, *sec.actors)}
    base = base_url.rstrip("/")
    ctx = {
        "issue": issue,
        "now": now,
        "base_url": base,
        "archive_url": archive_url or f"{base_url.rstrip('/')}/archive/",
        "unsubscribe_url": UNSUBSCRIBE,
        "preferences_url": PREFERENCES,
        "cve_url": cve_url,
        "story_count": len(stories),
        "date_label": issue.date.strftime("%A, %d %b %Y"),
        "counts_line": counts_line(issue),
        "site": re.sub(r"^https?://", "", base),
        "preheader_padding": PREHEADER_PADDING,
        "home": home,
        "top_stories": [home[k][0] for k in issue.top if k in home],
        "also_names": lambda story: also_names(story, actor_titles),
        "cve_line": cve_line,
        "more_line": more_label(issue, len(issue.more)) if issue.more else "",
        "archive": archive,
        "notice": notice,
        "postal_address": " ".join(postal_address.split()),
    }
    html = env.get_template("email/digest.html.j2").render(**ctx)
    html = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False).inline(html)
    text = env.get_template("email/digest.txt.j2").render(**ctx)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return RenderedIssue(subject=subject_for(issue), html=html, text=text, preheader=issue.preheader)


def render_within_budget(issue: IssueContent, *, base_url: str, archive_url: str | None = None,
                         now: datetime | None = None, budget: int = HTML_BUDGET - LINK_ROOM,
                         notice: str = "", postal_address: str = "") -> tuple[IssueContent, RenderedIssue]:
    """Render ``issue``; when the HTML is over ``budget`` bytes, drop the least important stories
    (then updates) until it fits, rather than let a mail client clip it. Returns what was rendered."""
    def render(c: IssueContent) -> RenderedIssue:
        return render_issue(c, base_url=base_url, archive_url=archive_url, now=now, notice=notice,
                            postal_address=postal_address)

    def fits(r: RenderedIssue) -> bool:
        return len(r.html.encode("utf-8")) <= budget

    rendered = render(issue)
    if fits(rendered):
        return issue, rendered
    n_updates = len(issue.updates)
    no_stories = trim_issue(issue, 0)
    if not fits(render(no_stories)):  # the updates alone are over: keep the most of them that fit
        return _largest_fit(lambda k: trim_issue(issue, 0, k), n_updates, render, fits)
    return _largest_fit(lambda k: trim_issue(issue, k), len(stories_of(issue)), render, fits)


def _largest_fit(trimmed, n: int, render, fits) -> tuple[IssueContent, RenderedIssue]:  # type: ignore[no-untyped-def]
    """Binary search for the largest k in [0, n) whose trimmed issue fits (k = 0 is the fallback)."""
    lo, hi = 0, n - 1  # trimmed(n) is known not to fit
    best = trimmed(0)
    best_r = render(best)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        c = trimmed(mid)
        r = render(c)
        if fits(r):
            lo, best, best_r = mid, c, r
        else:
            hi = mid - 1
    return best, best_r


def personalise(body: str, *, unsubscribe_url: str, preferences_url: str) -> str:
    return body.replace(UNSUBSCRIBE, unsubscribe_url).replace(PREFERENCES, preferences_url)
