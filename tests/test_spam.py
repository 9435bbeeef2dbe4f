"""SpamAssassin (local rules only: ``spamassassin -L -t``) scores a rendered digest below 2.0."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from digest.issue.render import render_issue
from digest.mail.message import MessageFactory, Recipient
from digest.mail.sample import NOW, sample_issue
from digest.tokens import TokenSigner

SPAMASSASSIN = shutil.which("spamassassin")
BASE = "https://digest.example.org"


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed (apt-get install -y spamassassin)")
def test_the_rendered_digest_scores_below_2(tmp_path: Path) -> None:
    rendered = render_issue(sample_issue(copies=4), base_url=BASE, archive_url=f"{BASE}/archive/42", now=NOW)
    factory = MessageFactory(rendered, sender="Cyber Digest <digest@example.org>", base_url=BASE,
                             signer=TokenSigner(b"k" * 32), issue_id=42, reply_to="Cyber Digest <editor@example.org>",
                             unsubscribe_mailto="unsubscribe@example.org")
    raw = factory.build(Recipient(5, "reader@example.net", "abcd"))
    assert SPAMASSASSIN is not None
    env = {**os.environ, "HOME": str(tmp_path)}  # its user_prefs file goes here, not into ~
    out = subprocess.run([SPAMASSASSIN, "-L", "-t"], check=False, input=raw, capture_output=True, timeout=120, env=env).stdout
    m = re.search(rb"^X-Spam-Status: \w+, score=(-?[\d.]+)", out, re.MULTILINE)
    assert m, out[-2000:]
    score = float(m.group(1))
    report = out.decode("utf-8", "replace").split("Content analysis details:")[-1][:3000]
    assert score < 2.0, report
