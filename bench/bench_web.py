"""The web page's response times and memory, against a real ``broadcaster web`` process.

Run:  .venv/bin/python bench/bench_web.py [--rows 1000000] [--announcements 200] [--requests 50]

A station with ``--announcements`` announcement files and a play log of ``--rows``
plays (one month), no station running (the status page then says so after
trying the socket). A logged-in client asks each page ``--requests`` times, one
after another, over loopback; p50 and p99 of the time to the whole response, and
the web process's resident memory at the end and at its peak.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_log import make_station  # noqa: E402

from broadcaster.web.users import UserStore  # noqa: E402

PASSWORD = "bench-password"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _memory_mib(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {k: int(v.split()[0]) / 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
    return values["VmRSS"], values["VmHWM"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--announcements", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        station = Path(tmp)
        make_station(station, args.rows)
        template = (station / "announcements" / "hotline.yaml").read_text(encoding="utf-8")
        for n in range(args.announcements - len(list((station / "announcements").glob("*.yaml")))):
            (station / "announcements" / f"notice-{n:03d}.yaml").write_text(
                template.replace("防控热线", f"第{n}号通知"), encoding="utf-8")
        users = UserStore(station / "data" / "users.sqlite")
        users.add("bench", PASSWORD, "operator")
        users.close()
        port = _port()
        web = subprocess.Popen([sys.executable, "-m", "broadcaster", "web", "--port", str(port)], cwd=station,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
            opener = urllib.request.build_opener(cookies)
            page = opener.open(base + "/login").read().decode()
            token = re.search(r'name="csrf" value="([^"]+)"', page)[1]  # type: ignore[index]
            form = urllib.parse.urlencode({"name": "bench", "password": PASSWORD, "csrf": token}).encode()
            opener.open(base + "/login", data=form).read()
            print(f"{args.announcements} announcements, {args.rows} plays; {args.requests} requests per page")
            for path in ("/", "/announcements", "/log"):
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    body = opener.open(base + path).read()
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
                p50 = statistics.median(times)
                print(f"  {path:16s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   {len(body) // 1024} KiB")
            rss, peak = _memory_mib(web.pid)
            print(f"  web process: RSS {rss:.0f} MiB, peak {peak:.0f} MiB")
        finally:
            web.terminate()
            web.wait(10)


if __name__ == "__main__":
    main()
