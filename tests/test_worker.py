"""The worker: schedule in the configured zone across DST, one run at a time, coalescing, the lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from digest.config import Config, load_config
from digest.errors import DigestError
from digest.ops.lock import WorkerLock
from digest.ops.worker import build_scheduler


def _cfg(tmp_path: Path, tz: str = "Europe/Berlin", send_time: str = "07:00") -> Config:
    p = tmp_path / "c.toml"
    p.write_text(f'[schedule]\nsend_time = "{send_time}"\ntimezone = "{tz}"\n'
                 f'[database]\nurl = "sqlite:///{tmp_path / "w.db"}"\n')
    return load_config(p, env={})


def test_daily_send_stays_at_local_time_across_daylight_saving(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    sched = build_scheduler(cfg, lambda: None, lambda: None, BackgroundScheduler(timezone=cfg.schedule.timezone))
    trigger = sched.get_job("send").trigger
    berlin = ZoneInfo("Europe/Berlin")
    # the night before the spring change (29 Mar 2026) and the autumn change (25 Oct 2026)
    for before in (datetime(2026, 3, 28, 8, 0, tzinfo=berlin), datetime(2026, 10, 24, 8, 0, tzinfo=berlin)):
        nxt = trigger.get_next_fire_time(None, before)
        local = nxt.astimezone(berlin)
        assert (local.hour, local.minute) == (7, 0)
        assert local.date().day == before.day + 1
    spring = trigger.get_next_fire_time(None, datetime(2026, 3, 28, 8, 0, tzinfo=berlin)).astimezone(UTC)
    autumn = trigger.get_next_fire_time(None, datetime(2026, 10, 24, 8, 0, tzinfo=berlin)).astimezone(UTC)
    assert spring.hour == 5 and autumn.hour == 6  # CEST vs CET


def test_jobs_run_one_at_a_time_and_missed_runs_coalesce(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    sched = build_scheduler(cfg, lambda: None, lambda: None, BackgroundScheduler(timezone="UTC"))
    for job_id in ("poll", "send"):
        job = sched.get_job(job_id)
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time >= 24 * 3600
    assert sched.get_job("poll").trigger.interval.total_seconds() == cfg.feeds.poll_interval_minutes * 60


def test_coalesced_send_runs_once_after_three_days_down(tmp_path: Path) -> None:
    """Run a real scheduler whose send job last ran three days ago: it fires once, not three times."""
    import threading
    import time

    cfg = _cfg(tmp_path, tz="UTC", send_time="07:00")
    calls: list[datetime] = []
    done = threading.Event()

    def send() -> None:
        calls.append(datetime.now(UTC))
        done.set()

    sched = BackgroundScheduler(timezone="UTC")
    build_scheduler(cfg, lambda: None, send, sched)
    sched.get_job("poll").pause()
    sched.start(paused=True)
    # pretend the job was due three days ago and the worker was down since
    job = sched.get_job("send")
    job.modify(next_run_time=datetime.now(UTC).replace(microsecond=0) - timedelta(days=3))
    sched.resume()
    done.wait(5)
    time.sleep(0.5)
    sched.shutdown(wait=True)
    assert len(calls) == 1


def test_a_second_worker_on_the_same_sqlite_database_refuses_to_start(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with WorkerLock(cfg), pytest.raises(DigestError, match="another digest worker"), WorkerLock(cfg):
        pass
    with WorkerLock(cfg):  # released: can start again
        pass


def test_a_second_worker_on_the_same_postgresql_database_refuses_to_start(tmp_path: Path, pg_url: str) -> None:
    p = tmp_path / "pg.toml"
    p.write_text(f'[database]\nurl = "{pg_url}"\n')
    cfg = load_config(p, env={})
    with WorkerLock(cfg), pytest.raises(DigestError, match="another digest worker"), WorkerLock(cfg):
        pass
