"""Logging: readable lines on a terminal, or one JSON object per line with ``--log-json``.

Both carry the same facts: the time (UTC), the level, the logger, the message and what the line is
about (``feed``, ``issue``, ``subscriber``, passed as ``extra``): a plain line reads
``2026-12-03T11:40:00Z WARNING digest.ops.worker: feed failed: https://x/feed.xml: connection refused``
and names the feed or issue in ``[feed=...]`` when the message does not already.

Every line passes :class:`RedactFilter` first: the token of a confirm, unsubscribe or preferences
link (a key to someone's subscription) and the password of a URL never reach a log, whoever logged
them (our code, uvicorn's access log, a library's exception).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from digest.config import mask_url

_STD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

#: the token part of a link path, wherever it appears in a line (an access log's "GET /confirm/<t> HTTP/1.1")
_TOKEN_PATH = re.compile(r"(/(?:confirm|unsubscribe|preferences)/)[^\s?#\"'<>]+")
#: loggers that carry request paths and may have handlers of their own (uvicorn's, when it configures logging)
PATH_LOGGERS = ("uvicorn.access", "uvicorn.error", "digest.web")


def redact(text: str) -> str:
    """``text`` with link tokens replaced by ``***`` and URL passwords masked."""
    return _TOKEN_PATH.sub(r"\1***", mask_url(text))


class RedactFilter(logging.Filter):
    """Rewrites a record's message (and its exception text) through :func:`redact`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit the format: emit() reports that
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


REDACT = RedactFilter()


def guard(logger_names: tuple[str, ...] = PATH_LOGGERS) -> None:
    """Put the filter on these loggers too, for handlers that are not ours (uvicorn's own config)."""
    for name in logger_names:
        logging.getLogger(name).addFilter(REDACT)  # the same instance is added once


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage()}
        data.update({k: v for k, v in vars(record).items() if k not in _STD})
        if record.exc_info or record.exc_text:
            data["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, default=str)


#: the extras that say what a line is about; a plain line shows those its message does not already name
CONTEXT_KEYS = ("feed", "issue", "subscriber")


class PlainFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger>: <message> [feed=... issue=...]``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        context = [f"{k}={v}" for k in CONTEXT_KEYS
                   if (v := getattr(record, k, None)) not in (None, "") and str(v) not in message]
        line = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z "
                f"{record.levelname} {record.name}: {message}" + (f" [{' '.join(context)}]" if context else ""))
        if record.exc_info or record.exc_text:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))  # type: ignore[arg-type]
        return line


def setup(verbose: int = 0, json_lines: bool = False) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    handler.addFilter(REDACT)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        # whatever configured uvicorn before (its own dictConfig gives these loggers handlers and stops
        # propagation), its lines go through our handler and its redaction filter
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
        lg.disabled = False
        lg.setLevel(logging.NOTSET)  # the root level (-v) decides, not an earlier setting
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan", "apscheduler", "aiosmtplib",
                  "mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def at_least(level: int) -> None:
    """Show lines of ``level`` and above (a long-running command, the worker, reports at INFO by
    default); a lower level set by ``-v``/``-vv`` stays, and the chatty libraries stay at WARNING."""
    root = logging.getLogger()
    if root.level > level:
        root.setLevel(level)
