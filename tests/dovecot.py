"""A private Dovecot (IMAP and POP3) on loopback ports for the bounce-mailbox tests.

Debian's dovecot-imapd and dovecot-pop3d (.ci/run installs them); the tests that need it skip
with the reason where it is absent. One instance per test: its own configuration, passwd-file,
Maildir store and ports in a fresh folder, plain-text logins allowed on loopback only, stopped
(SIGTERM to the process this helper started) at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import free_port as _free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


@dataclass
class Dovecot:
    host: str
    imap_port: int
    pop3_port: int
    user: str
    password: str
    root: Path


def _mail_owner() -> tuple[int, int]:
    """Dovecot will not serve mail as root: the 'dovecot' system user (or nobody) owns the store."""
    for name in ("dovecot", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    return os.getuid(), os.getgid()


@contextmanager
def running_dovecot(user: str = "bounces", password: str = "s3cret-pw") -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (Debian packages dovecot-imapd dovecot-pop3d; .ci/run installs them)")
    if os.geteuid() != 0:
        pytest.skip("the private dovecot needs root (its master process drops to the mail user), as in .ci/run")
    root = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    os.chmod(root, 0o755)  # the mail processes run as the mail owner and must reach their store
    uid, gid = _mail_owner()
    internal = "dovecot" if _has_user("dovecot") else pwd.getpwuid(os.getuid()).pw_name
    login = "dovenull" if _has_user("dovenull") else internal
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, uid, gid)
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
    imap_port, pop3_port = _free_port(), _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = digest-test-{imap_port}
log_path = {root}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 1)}
mail_location = maildir:{mail}/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
""", encoding="utf-8")
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (_listening(imap_port) and _listening(pop3_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
                pytest.fail(f"dovecot did not start: {out[-2000:]} {log[-2000:]}")
            time.sleep(0.1)
        yield Dovecot("127.0.0.1", imap_port, pop3_port, user, password, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
