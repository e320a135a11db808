"""The play log's exports against the sqlite3 program, whole processes.

Run:  .venv/bin/python bench/bench_log.py [--rows 1000000] [--rounds 3]

A station (the sample content) whose play log holds ``--rows`` plays spread
over one month. Timed from launching the command to its end, output to
/dev/null, peak memory (max RSS) from ``/usr/bin/time``:

- ``broadcaster log --since … --until … --format csv`` (local times, titles);
- ``sqlite3 -csv`` selecting the same columns (UTC times as stored, no titles):
  the floor a hand-written export could reach;
- ``broadcaster log --format json`` and ``broadcaster report --month``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broadcaster.playlog import PlayLog, iso  # noqa: E402

FIRST = dt.date(2026, 11, 1)
DAYS = 30
SAMPLE = ("config.yaml", "announcements", "playlists", "clips")
SQL_COLUMNS = ("id, requested_at, started_at, ended_at, announcement_id, zone, trigger, outcome, reason,"
               " dropouts, dropout_ms, substr(content_hash, 1, 12), host")  # fmt: skip


def make_station(folder: Path, rows: int) -> Path:
    for name in SAMPLE:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, folder / name)
    path = folder / "data" / "playlog.sqlite"
    path.parent.mkdir()
    PlayLog(path).close()  # the schema, its triggers and indexes
    ids = sorted(p.stem for p in (folder / "announcements").glob("*.yaml"))
    start = dt.datetime.combine(FIRST, dt.time(), dt.UTC) - dt.timedelta(hours=8)
    step = DAYS * 86400 / rows
    rng = random.Random(1)
    outcomes = ["completed"] * 95 + ["dropout", "interrupted", "failed", "missed", "missed"]

    def generate():  # type: ignore[no-untyped-def]
        for n in range(rows):
            at = start + dt.timedelta(seconds=n * step)
            outcome = rng.choice(outcomes)
            ended = at + dt.timedelta(seconds=40)
            gaps = (2, 340) if outcome == "dropout" else (0, 0)
            reason = {"missed": "quiet hours", "dropout": "2 gap(s), 340 ms in all"}.get(outcome, "")
            local_day = (at + dt.timedelta(hours=8)).date().isoformat()
            yield (rng.choice(ids), "0123456789abcdef0123", "village", "schedule", iso(at),
                   None if outcome == "missed" else iso(at), iso(ended), outcome, reason, "station-pc",
                   1234, local_day, *gaps, "run")  # fmt: skip

    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO plays (announcement_id, content_hash, zone, trigger, requested_at, started_at,"
            " ended_at, outcome, reason, host, pid, day, dropouts, dropout_ms, run)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", generate())  # fmt: skip
    return path


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak MiB) of one run, output to /dev/null."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, check=True)  # fmt: skip
    seconds, kib = result.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    broadcaster = [str(Path(sys.executable).parent / "broadcaster")]
    last = FIRST + dt.timedelta(days=DAYS - 1)
    span = ["--since", FIRST.isoformat(), "--until", last.isoformat()]
    with tempfile.TemporaryDirectory() as tmp:
        station = Path(tmp)
        db = make_station(station, args.rows)
        where = f"WHERE day BETWEEN '{FIRST}' AND '{last}' ORDER BY id"
        commands = {
            "broadcaster log --format csv": broadcaster + ["log", *span, "--format", "csv"],
            "sqlite3 -csv (same columns)": ["sqlite3", "-csv", "-header", str(db),
                                            f"SELECT {SQL_COLUMNS} FROM plays {where}"],  # fmt: skip
            "broadcaster log --format json": broadcaster + ["log", *span, "--format", "json"],
            "broadcaster report --month": broadcaster + ["report", "--month", "--day", last.isoformat()],
        }
        print(f"{args.rows} plays over {DAYS} days; median of {args.rounds} rounds")
        results = {}
        for name, command in commands.items():
            runs = [timed(command, station) for _ in range(args.rounds)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            results[name] = seconds
            print(f"  {name:32s} {seconds:6.2f} s   peak {peak:6.1f} MiB")
        ratio = results["broadcaster log --format csv"] / results["sqlite3 -csv (same columns)"]
        print(f"  csv export / sqlite3: {ratio:.2f}x")


if __name__ == "__main__":
    main()
