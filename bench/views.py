"""Benchmark of the post page's view counter: `make bench-views` (about two and a half minutes).

Serves the site with gunicorn (one server, so every case has the same workers and settings: DEBUG off, the
production middleware, persistent database connections) on a fresh PostgreSQL database and a private Redis,
loads it with wrk over loopback and prints, for each case,
  (a) a minimal Django view returning a fixed string: the ceiling for any Django page,
  (b) the real post page, counting the view in Redis: served from the page each process keeps (by the
      publisher.middleware.KeptPostPages middleware), rendered again after each flush,
  (c) the tutorial's naive counter (`post.view_count += 1; post.save()`, and Post.save renders the Markdown
      again), registered only for the benchmark, in bench/views_urls.py,
  (r) not a target: (a) plus one Redis HINCRBY sent and waited for in the view, as a plain counter would,
requests/s, p50 and p99 latency, the ratio to (a), and views lost: requests served minus the post's count in
the database after a final flush_view_counts (which also runs every second during (b), as beat's would).

The cases take turns, several rounds each, so that other load on the machine weighs on all of them alike.
"Requests served" come from gunicorn's access log (each request that reached Django, with its status), not from
wrk, which abandons the requests still in flight at its deadline although the server answers and counts them.

Environment (all optional):
  BENCH_DATABASE_URL   database to drop, create and use (default postgres://postgres@127.0.0.1:5432/qp_bench_views)
  BENCH_ROUNDS, BENCH_ROUND_SECONDS, BENCH_WARMUP_SECONDS   10 rounds of 3 s per case, after 2 s of warm-up
  BENCH_CONNECTIONS    concurrent connections (32)
  BENCH_WORKERS, BENCH_THREADS, BENCH_WORKER_CLASS   gunicorn's (6 workers of 1 thread, gthread for keep-alive)
  BENCH_REDIS          tcp (default, as REDIS_URL is documented) or unix (a socket file, for Redis on the same host)
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import django_setup, find_wrk, free_port, recreate_database, start_gunicorn, stop  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qp_bench_views")
# Many short rounds: this machine's speed drifts by a quarter within seconds, and the more often the cases take
# turns, the more alike each one's share of slow and fast moments.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 10))
ROUND_SECONDS = int(os.environ.get("BENCH_ROUND_SECONDS", 3))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", 2))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 32))
# One thread per worker: with several, a thread back from Redis waits for the GIL; (b) served a third less.
WORKERS = int(os.environ.get("BENCH_WORKERS", 6))
THREADS = int(os.environ.get("BENCH_THREADS", 1))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "gthread")
REDIS_OVER = os.environ.get("BENCH_REDIS", "tcp")  # or "unix": a socket file, for Redis on the same host
WRK_THREADS = 2
# wrk sends no User-Agent of its own, and a request without one is taken for a bot and not counted.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
TARGET_RATIO = 0.8
TARGET_REQUESTS = 20_000
TARGET_CONNECTIONS = 32
WRK_ERRORS = ("connect_errors", "read_errors", "write_errors", "non_2xx_3xx", "timeouts")
FLUSH_EVERY = 1.0  # seconds: flushes run during the load, as beat's would, only more often

# Printed by wrk at the end of a run: one JSON line, with the latency quantiles that let rounds be merged.
WRK_REPORT = """
done = function(summary, latency, requests)
  local quantiles = {}
  for i = 1, 1000 do quantiles[i] = latency:percentile(i / 10) end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"non_2xx_3xx": %d, "timeouts": %d, "quantiles_us": [%s]}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, table.concat(quantiles, ",")))
end
"""

POST_CONTENT = """A post long enough to look like one: a few paragraphs, a list, a link and some code.

## Why count in Redis

Counting with `view_count += 1; save()` reads the row, adds one in Python and writes the whole row back, so two
readers at the same moment count **one** view, and every page view becomes a database write.

- HINCRBY is atomic: every view counts.
- A periodic task moves the counts into the database.
- The page shows the database count plus what is still buffered.

Read more on [the Redis site](https://redis.io/docs/latest/commands/hincrby/).

```python
pipe.hincrby("views:pending", post_id, 1)
```

""" + "\n\n".join(f"Paragraph {n}: " + "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6
                   for n in range(6))


@dataclass
class Case:
    key: str
    name: str
    path: str
    post: object = None  # the post whose views are counted, if any
    runs: list = field(default_factory=list)


def main():
    wrk = find_wrk("bench-views")
    workdir = Path(tempfile.mkdtemp(prefix="qp-bench-views-"))
    redis_process = server = None
    try:
        redis_process, redis_url, broker_url = start_redis(workdir / "redis")
        env = bench_environment(redis_url, broker_url)
        os.environ.update(env)
        recreate_database(DATABASE_URL)
        django_setup()
        posts = create_posts()
        port = free_port()
        access_log = workdir / "access.log"
        error_log = workdir / "gunicorn.log"
        server = start_gunicorn(env, port, access_log, error_log, workers=WORKERS, threads=THREADS,
                                worker_class=WORKER_CLASS)
        base = f"http://127.0.0.1:{port}"
        if not answers_200(base + "/bench/minimal/", timeout=30):
            sys.exit(f"gunicorn did not answer 200 within 30 s; its log:\n{error_log.read_text()[-3000:]}")
        cases = [
            Case("a", "minimal Django view", "/bench/minimal/"),
            Case("b", "post page, counted in Redis", f"/{posts['b'].slug}/", posts["b"]),
            Case("c", "naive view_count += 1; save()", f"/bench/naive/{posts['c'].slug}/", posts["c"]),
            # Not a target: what one Redis round trip costs a Django page on this machine.
            Case("r", "(a) + one Redis HINCRBY", "/bench/minimal-and-hincrby/"),
        ]
        print(f"gunicorn: {WORKERS} workers x {THREADS} threads ({WORKER_CLASS}), DEBUG off, persistent database "
              f"connections; Redis over {REDIS_OVER}; PostgreSQL {urlparse(DATABASE_URL).path.lstrip('/')}\n"
              f"wrk: {WRK_THREADS} threads, {CONNECTIONS} connections; {ROUNDS} rounds of {ROUND_SECONDS}s per case, "
              f"the cases taking turns (so that other load on the machine weighs on each alike), "
              f"after {WARMUP_SECONDS}s of warm-up each\n", flush=True)
        for case in cases:
            run_wrk(wrk, base + case.path, WARMUP_SECONDS)
        for round_number in range(1, ROUNDS + 1):
            line = []
            for case in cases:
                with flushing_in_background(enabled=case.key == "b"):
                    run = run_wrk(wrk, base + case.path, ROUND_SECONDS)
                case.runs.append(run)
                line.append(f"({case.key}) {run['requests'] * 1e6 / run['duration_us']:,.0f}/s")
            print(f"  round {round_number}: " + "  ".join(line), flush=True)
        results = [measure(case, access_log) for case in cases]
        print_table(results)
        return check_targets(results)
    finally:
        if server is not None:
            stop(server)
        if redis_process is not None:
            stop(redis_process)
        shutil.rmtree(workdir, ignore_errors=True)


# --- Setting up --------------------------------------------------------------------------------------------


def start_redis(data_dir):
    """A private redis-server for the run: (process, REDIS_URL, CELERY_BROKER_URL)."""
    from quick_publisher.redis_server import redis_server_binary, start_private_redis

    if REDIS_OVER == "tcp":
        process, url = start_private_redis(data_dir)
        return process, url, url
    data_dir.mkdir(parents=True)
    path = data_dir / "redis.sock"
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
         "--dir", str(data_dir), "--appendonly", "yes", "--save", "", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not path.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            sys.exit("redis-server did not start")
        time.sleep(0.05)
    return process, f"unix://{path}?db=0", f"redis+socket://{path}"


def bench_environment(redis_url, broker_url):
    return {
        "DJANGO_SETTINGS_MODULE": "bench.views_settings",
        "ENV_FILE": os.devnull,  # never the developer's .env (DEBUG=1)
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": DATABASE_URL,
        "CONN_MAX_AGE": "600",  # persistent connections, as in production
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker_url,
        "LOG_LEVEL": "WARNING",
    }


def create_posts():
    from main.models import User
    from publisher.models import Post
    from publisher.services import make_author, save_post

    author = User.objects.create_user("bench-author@example.com", full_name="Bench Author", is_verified=True)
    make_author(author)
    return {
        key: save_post(Post(author=author, title=title, content=POST_CONTENT, status=Post.Status.PUBLISHED))
        for key, title in (("b", "Counting views without losing any"), ("c", "Counting views the tutorial way"))
    }


def answers_200(url, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:  # refused, reset or timed out while the workers boot
            pass
        time.sleep(0.2)
    return False


# --- Measuring ---------------------------------------------------------------------------------------------


def run_wrk(wrk, url, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_REPORT)
        script.flush()
        output = subprocess.run(
            [wrk, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
             "-H", f"User-Agent: {BROWSER}", "-s", script.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


class flushing_in_background:
    """Run flush_view_counts every FLUSH_EVERY seconds while the load runs."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.done = threading.Event()

    def __enter__(self):
        if self.enabled:
            self.thread = threading.Thread(target=self.keep_flushing)
            self.thread.start()
        return self

    def keep_flushing(self):
        from django.db import connection

        from publisher.tasks import flush_view_counts

        try:
            while not self.done.wait(FLUSH_EVERY):
                flush_view_counts()
        finally:
            connection.close()

    def __exit__(self, *exc):
        if self.enabled:
            self.done.set()
            self.thread.join()


def measure(case, access_log):
    """The case's runs merged, its requests served by status, and for a counted post its views lost."""
    time.sleep(1)  # the requests wrk abandoned at its deadlines are being answered still
    served = Counter()
    with open(access_log) as log:
        for line in log:
            method, path, status = line.split()
            if path == case.path:
                served[(method, status)] += 1
    requests = sum(run["requests"] for run in case.runs)
    result = {
        "case": case,
        "requests": requests,
        "rps": requests * 1e6 / sum(run["duration_us"] for run in case.runs),
        "p50_ms": merged_quantile(case.runs, 0.50) / 1000,
        "p99_ms": merged_quantile(case.runs, 0.99) / 1000,
        "served": served.pop(("GET", "200"), 0),
        "not_200": {f"{method} {status}": n for (method, status), n in served.items()},
        "wrk_errors": {key: total for key in WRK_ERRORS if (total := sum(run[key] for run in case.runs))},
    }
    if case.post is not None:
        from publisher.models import DailyPostViews
        from publisher.tasks import flush_view_counts

        flush_view_counts()  # the task's body, run here: the final flush
        case.post.refresh_from_db()
        result["counted"] = case.post.view_count
        result["daily"] = sum(DailyPostViews.objects.filter(post=case.post).values_list("views", flat=True))
        result["lost"] = result["served"] - case.post.view_count
    return result


def merged_quantile(runs, q):
    """The q-quantile of all the runs' latencies, from each run's 1000 quantiles weighted by its requests."""
    samples = sorted(
        (value, run["requests"] / len(run["quantiles_us"])) for run in runs for value in run["quantiles_us"]
    )
    wanted, seen = q * sum(weight for _, weight in samples), 0
    for value, weight in samples:
        seen += weight
        if seen >= wanted:
            return value
    return samples[-1][0]


def print_table(results):
    ceiling = results[0]["rps"]
    print()
    print(f"{'case':<36} {'requests/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'vs (a)':>6} {'served':>8} {'counted':>8} "
          f"{'lost':>7}")
    for r in results:
        counted = f"{r['counted']:,}" if "counted" in r else "-"
        lost = f"{r['lost']:,}" if "lost" in r else "-"
        print(f"({r['case'].key}) {r['case'].name:<32} {r['rps']:>10,.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
              f"{r['rps'] / ceiling:>6.2f} {r['served']:>8,} {counted:>8} {lost:>7}")
    print()
    for r in results:
        runs = len(r["case"].runs)
        notes = [f"wrk: {r['requests']:,} responses in {runs} measured runs, all 2xx/3xx by wrk's count"
                 if not r["wrk_errors"] else f"wrk: {r['requests']:,} responses; errors: {r['wrk_errors']}"]
        notes.append(f"answers other than GET 200: {r['not_200']}" if r["not_200"] else "every answer a 200")
        if "daily" in r:
            notes.append(f"daily rows sum to {r['daily']:,}")
        print(f"({r['case'].key}) " + "; ".join(notes))
    print("served: GET requests answered 200 for the case's URL (warm-up included), by gunicorn's access log;\n"
          "counted: the post's view_count after a final flush_view_counts; lost = served - counted.")


def check_targets(results):
    a, b = results[0], results[1]
    failures = []
    if b["rps"] < TARGET_RATIO * a["rps"]:
        failures.append(f"(b) serves {b['rps'] / a['rps']:.2f} x (a) in requests/s: the target is {TARGET_RATIO}")
    if b["lost"] != 0 or b["daily"] != b["counted"]:
        failures.append(f"(b) lost {b['lost']:,} views (daily rows: {b['daily']:,}, total: {b['counted']:,})")
    if b["not_200"] or b["wrk_errors"]:
        failures.append("(b) answered something other than 200")
    if b["served"] < TARGET_REQUESTS or CONNECTIONS < TARGET_CONNECTIONS:
        failures.append(f"(b) served {b['served']:,} requests at {CONNECTIONS} connections: the target is at least "
                        f"{TARGET_REQUESTS:,} at {TARGET_CONNECTIONS} (raise BENCH_ROUNDS or BENCH_ROUND_SECONDS)")
    print()
    if failures:
        print("TARGETS MISSED:\n  " + "\n  ".join(failures))
        return 1
    print(f"Targets met: (b) serves {b['rps'] / a['rps']:.2f} x (a) in requests/s (>= {TARGET_RATIO}); no view lost "
          f"over {b['served']:,} requests at {CONNECTIONS} connections.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
