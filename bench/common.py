"""What the benchmarks share: a database and a Redis db of their own, processes, wrk, data, and verdicts.

Every benchmark drops and creates BENCH_DATABASE_URL (never the developer's database) and flushes BENCH_REDIS_URL
(a Redis db number of its own), and drops the database again at the end.
"""

import itertools
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quick_publisher.redis_server import free_port  # noqa: E402, F401  (for the benchmarks' servers)

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quick_publisher_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# wrk sends no User-Agent of its own, and a request without one is taken for a bot and not counted.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

POST_MARKDOWN = """Counting page views looks easy until two readers arrive at the same moment. The tutorial's
`view_count += 1; save()` reads the row, adds one in Python and writes the whole row back, so one of them is lost.

## What this platform does instead

- Each view is an atomic `HINCRBY` in Redis, which every reader can do at once.
- A periodic task moves the counts into the database, **exactly once** per batch.
- The page shows the database's count plus what is still buffered.

Read more about [HINCRBY](https://redis.io/docs/latest/commands/hincrby/) on the Redis site.

```python
pipe.hincrby("views:pending", post_id, 1)
```

> Measure before you optimise, and measure again after.

Paragraph {n}: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore
et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip.
"""


def sizes(variable, default):
    """A comma-separated list of sizes from the environment, e.g. BENCH_FLUSH_SIZES=1000,10000."""
    return [int(size) for size in os.environ.get(variable, default).split(",")]


# --- Database, Redis and Django -----------------------------------------------------------------------------


def environment(**overrides):
    """Production-like settings pointing at the benchmark's own database and Redis db, for this process and the
    servers it starts: never the developer's .env (DEBUG=1) or data."""
    return {
        "ENV_FILE": os.devnull,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",  # loopback HTTP, no TLS proxy in front
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "SITE_URL": "https://bench.quickpublisher.example",
        "LOG_LEVEL": "WARNING",
        # wrk is one reader (one address and user agent): its views are all counted, and the limit is still checked.
        "READER_VIEWS_PER_MINUTE": "1000000000",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **overrides,
    }


def set_up(**overrides):
    """Fresh database (migrated) and empty Redis db; Django set up in this process. Returns the environment
    that the servers this benchmark starts must run with."""
    env = environment(**overrides)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quick_publisher.settings")
    _maintenance(f'DROP DATABASE IF EXISTS "{database_name()}" WITH (FORCE)', f'CREATE DATABASE "{database_name()}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    flush_redis()
    return {**os.environ, **env}


def tear_down():
    from django.db import connections

    connections.close_all()
    flush_redis()
    _maintenance(f'DROP DATABASE IF EXISTS "{database_name()}" WITH (FORCE)')


def database_name():
    return urlparse(DATABASE_URL).path.lstrip("/")


def _maintenance(*statements):
    """CREATE and DROP DATABASE, which no ORM call does, over psycopg on the server's maintenance database."""
    import psycopg

    with psycopg.connect(urlparse(DATABASE_URL)._replace(path="/postgres").geturl(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def vacuum_analyze():
    """After a bulk load, as autovacuum would do soon after: planner statistics, and a visibility map that lets
    index-only scans skip the table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def flush_redis():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


# --- Processes -----------------------------------------------------------------------------------------------


def log_directory(benchmark):
    """var/bench/<benchmark>/, emptied: the logs of the servers of the last run, to read when something fails."""
    directory = ROOT / "var" / "bench" / benchmark
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    return directory


def start(command, log_path, env, ready_text=None, timeout=60, cwd=ROOT):
    """Start a server in its own process group, its output in log_path; wait until ready_text is in the log."""
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while ready_text and ready_text not in Path(log_path).read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            sys.exit(f"{command[2:5]} did not start; its log:\n{Path(log_path).read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def stop(process):
    """SIGTERM to its process group (a warm shutdown for gunicorn and Celery), SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def process_tree(pid):
    """pid and all its descendants, from /proc (psutil is not a dependency)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def cpu_seconds(pids):
    """User + system CPU seconds used so far by these processes."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def pss_bytes(pids):
    """Proportional set size summed: each shared page counted once across the processes that share it."""
    total = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE).group(1)) * 1024
    return total


# --- wrk -------------------------------------------------------------------------------------------------------

_LATENCY_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}


def run_wrk(url, *, seconds, connections, headers=(), lua_script=None, threads=2):
    """Load url with wrk; return {"requests", "rps", "p99_ms", "errors"} parsed from its --latency report."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-H",
        f"User-Agent: {BROWSER}",
    ]
    for header in headers:
        command += ["-H", header]
    if lua_script:
        command += ["-s", str(lua_script)]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if p99 is None:
        raise RuntimeError(f"wrk's report has no 99th percentile:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p99_ms": float(p99.group(1)) * _LATENCY_UNITS[p99.group(2)],
        "errors": (sum(map(int, errors.groups())) if errors else 0) + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def wrk_path_cycle(paths, script_path):
    """Write a wrk Lua script whose request() takes the next of these paths, round and round; return its path."""
    Path(script_path).write_text(
        "paths = {"
        + ",".join(f'"{path}"' for path in paths)
        + "}\n"
        + """
next_path = 0
request = function()
  next_path = next_path % #paths + 1
  return wrk.format(nil, paths[next_path])
end
"""
    )
    return script_path


# --- Data ------------------------------------------------------------------------------------------------------


def create_authors(count, *, first_number=0, batch_size=5000):
    """Active, verified authors who receive reports, with unusable passwords (no hashing), and their report
    preferences (bulk_create sends no post_save: the rows sign-up would make are made here). Returns their ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from publisher.models import ReportPreferences

    User = get_user_model()
    now = timezone.now()
    ids = []
    for start_number in range(first_number, first_number + count, batch_size):
        numbers = range(start_number, min(start_number + batch_size, first_number + count))
        authors = User.objects.bulk_create(
            User(
                email=f"author{n}@bench.example",
                full_name=f"Author {n}",
                slug=f"author-{n}",  # as User.save would derive it (bulk_create skips save())
                password=make_password(None),
                is_active=True,
                is_verified=True,
                verified_at=now,
            )
            for n in numbers
        )
        ReportPreferences.objects.bulk_create(
            ReportPreferences(author_id=author.pk, frequency=ReportPreferences.Frequency.DAILY) for author in authors
        )
        ids += [author.pk for author in authors]
    return ids


def create_posts(author_ids, posts_each, *, batch_size=20_000):
    """posts_each published posts per author, with a few paragraphs of Markdown rendered as Post.save would
    (bulk_create skips save()). Ten versions of the text are rendered, not one per post: rendering is not what
    is measured, and a million renders would take longer than the benchmark. Returns the posts' ids, in order."""
    from datetime import timedelta

    from django.utils import timezone

    from publisher.models import Post
    from publisher.rendering import excerpt_from_html, render_markdown

    texts = [POST_MARKDOWN.replace("{n}", str(n)) for n in range(10)]
    rendered = [(text, render_markdown(text)) for text in texts]
    rendered = [(text, html, excerpt_from_html(html)) for text, html in rendered]
    published_at = timezone.now() - timedelta(days=30)

    def posts():
        for author_id in author_ids:
            for n in range(posts_each):
                content, content_html, excerpt = rendered[(author_id + n) % len(rendered)]
                yield Post(
                    author_id=author_id,
                    title=f"Post {n} by author {author_id}",
                    slug=f"a{author_id}-post-{n}",
                    content=content,
                    content_html=content_html,
                    excerpt=excerpt,
                    status=Post.Status.PUBLISHED,
                    published_at=published_at,
                )

    ids, pending = [], posts()
    while batch := list(itertools.islice(pending, batch_size)):
        ids += [post.pk for post in Post.objects.bulk_create(batch)]
    return ids


def create_daily_views(post_ids, day, *, batch_size=20_000):
    """One DailyPostViews row per post for the day, a random number of views each."""
    import random

    from publisher.models import DailyPostViews

    for start_index in range(0, len(post_ids), batch_size):
        DailyPostViews.objects.bulk_create(
            DailyPostViews(post_id=post_id, date=day, views=random.randint(0, 200))
            for post_id in post_ids[start_index : start_index + batch_size]
        )


# --- Verdicts --------------------------------------------------------------------------------------------------


def verdict(ok, text):
    print(f"  [{'PASS' if ok else 'FAIL'}] {text}", flush=True)
    return ok
