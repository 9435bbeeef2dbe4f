"""The poll's worker processes (digest.ingest.workers): results to the right job, errors, a dead worker."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from digest.ingest.workers import WorkerPool

_SEEN: list[int] = []


def _square(n: int) -> tuple[int, int]:
    if n < 0:
        raise ValueError(f"negative: {n}")
    return n * n, os.getpid()


def _die(n: int) -> int:
    if n == 3:
        os._exit(7)  # a crash in a C library, the OOM killer
    return n


def _init(tag: int) -> None:
    _SEEN.append(tag)


def _tagged(_n: int) -> list[int]:
    return list(_SEEN)


def test_each_job_gets_its_own_result_across_workers() -> None:
    async def main() -> list[tuple[int, int]]:
        pool = WorkerPool(2, _square)
        try:
            return list(await asyncio.gather(*(pool.run(n) for n in range(40))))
        finally:
            pool.close()

    got = asyncio.run(main())
    assert [sq for sq, _pid in got] == [n * n for n in range(40)]
    assert len({pid for _sq, pid in got}) == 2  # both workers took jobs
    assert os.getpid() not in {pid for _sq, pid in got}


def test_an_exception_in_a_job_is_raised_where_it_is_awaited_and_the_pool_goes_on() -> None:
    async def main() -> tuple[str, int]:
        pool = WorkerPool(2, _square)
        try:
            with pytest.raises(ValueError, match="negative: -2") as info:
                await pool.run(-2)
            return str(info.value), (await pool.run(5))[0]
        finally:
            pool.close()

    assert asyncio.run(main()) == ("negative: -2", 25)


def test_a_worker_that_dies_fails_its_job_and_every_later_one() -> None:
    async def main() -> tuple[list[object], object]:
        pool = WorkerPool(2, _die)
        try:
            got = await asyncio.gather(*(pool.run(n) for n in range(8)), return_exceptions=True)
            try:
                later: object = await pool.run(1)
            except BrokenProcessPool as exc:
                later = exc
            return list(got), later
        finally:
            pool.close()

    got, later = asyncio.run(main())
    assert isinstance(got[3], BrokenProcessPool) and "exit code 7" in str(got[3])
    assert all(g == n or isinstance(g, BrokenProcessPool) for n, g in enumerate(got))
    assert isinstance(later, BrokenProcessPool)


def test_the_initializer_runs_in_each_worker_and_close_stops_them() -> None:
    async def main() -> tuple[list[int], list[object]]:
        pool = WorkerPool(2, _tagged, initializer=_init, initargs=(42,))
        procs = [w.proc for w in pool.workers]
        try:
            return await pool.run(0), procs
        finally:
            pool.close()

    seen, procs = asyncio.run(main())
    assert seen == [42]  # once per worker process, never in this one
    assert _SEEN == []
    assert all(not p.is_alive() for p in procs)  # type: ignore[attr-defined]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # exited, not reaped by our init
    except OSError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_workers_exit_when_the_poll_is_killed() -> None:
    import subprocess
    import sys
    import time

    code = (
        "import asyncio, os, signal, sys\n"
        "from digest.ingest.workers import WorkerPool\n"
        "from tests_workers_helper import slow\n"
        "async def main():\n"
        "    pool = WorkerPool(2, slow)\n"
        "    print(' '.join(str(w.proc.pid) for w in pool.workers), flush=True)\n"
        "    await pool.run(0)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    here = os.path.dirname(__file__)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", code.replace("tests_workers_helper", "test_workers")],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=here)
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert proc.wait(timeout=60) == -9
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if not _gone(p)]
    for p in left:  # do not leave them behind when the test fails
        os.kill(p, 9)
    proc.stdout.close()
    assert not left, "a worker outlived the killed poll"


def slow(n: int) -> int:
    return n
