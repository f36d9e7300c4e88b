"""Benchmark of the daily view-count report: `make bench-reports`.

On a fresh PostgreSQL database (migrated as in production) it bulk-inserts AUTHORS verified authors with 10
published posts each and a week of daily views, starts a local SMTP server that accepts and counts (aiosmtpd,
in a subprocess) and a real worker (`celery worker`, prefork, concurrency 4 as in the Procfile, in a
subprocess), then prints, in one run:

  the report run  the "Daily view-count report" periodic task, sent as beat sends it, until every chunk task
                  has finished: wall time, emails/s, database queries (in total and per chunk, counted in the
                  worker by bench/reports_worker.py), peak worker memory (psutil over the worker's process
                  tree), duplicates (SMTP recipients seen twice, deliveries not marked sent);
  (a) the ceiling the same number of messages, rendered beforehand by the project's own code, sent over one
                  SMTP connection with smtplib: what the SMTP server and loopback allow; sent once before and
                  once after the report run, and taken together, so that the machine's drift weighs on both sides;
  (b) the baseline the tutorial's loop (per user one query for their posts, a template, send_mail each), run
                  in this process as the tutorial's single task would run in one worker process.

Targets: the report run reaches at least half the ceiling's emails/s; a chunk's queries are a constant number
plus the one delivery mark per email sent; worker memory under 250 MB.

The delivery mark is the idempotency write: each report's ReportDelivery row is marked sent by one UPDATE as
soon as the SMTP server has accepted it. Marking a chunk's reports in one UPDATE would make the count constant,
but a worker killed mid-chunk would then mail again every report since the last mark instead of at most the one
in flight, so the benchmark shows the marks apart: queries per chunk = a constant + 1 per email sent. (Marking
with synchronous_commit off was measured as well: a commit here costs a few hundredths of a millisecond, so it
would buy nothing and lose the mark's durability.)

CPU per email is printed beside the rates: this machine's two cores are shared by the worker, the SMTP server,
PostgreSQL and whatever else runs, so wall-clock rates move with the machine's load; CPU per email does not.

Environment (all optional):
  BENCH_DATABASE_URL  PostgreSQL database to drop, create and use
                      (default postgres://postgres@127.0.0.1:5432/qp_bench_reports)
  BENCH_REDIS_URL     Redis database for the broker, flushed first (default redis://127.0.0.1:6379/7)
  BENCH_AUTHORS       number of authors (default 10000)
  REPORT_CHUNK_SIZE   authors per chunk task (default: the project's setting)
"""

import itertools
import json
import multiprocessing
import os
import secrets
import signal
import smtplib
import statistics
import subprocess
import sys
import threading
import time
import types
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import recreate_database  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qp_bench_reports")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
AUTHORS = int(os.environ.get("BENCH_AUTHORS", 10_000))
POSTS_PER_AUTHOR = 10
DAYS_OF_VIEWS = 7
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", 4))  # as the Procfile runs it
RUN_TIMEOUT = 300
MEMORY_LIMIT_MB = 250
LOG_DIR = ROOT / "var"


def say(text):
    print(text, flush=True)


# --- The SMTP server: accepts everything, counts messages and distinct recipients -------------------------


class CountingSMTPServer:
    """aiosmtpd in a child process; the counters are shared memory, so reading them costs the server nothing."""

    def __init__(self):
        from quick_publisher.redis_server import free_port

        self.port = free_port()
        self.lock = multiprocessing.Lock()
        self.messages = multiprocessing.Value("q", 0, lock=False)
        self.recipients = multiprocessing.Value("q", 0, lock=False)  # distinct, since the last reset
        self.generation = multiprocessing.Value("q", 0, lock=False)
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(target=self._serve, args=(ready,), daemon=True, name="bench-smtp")
        self.process.start()
        if not ready.wait(20):
            raise RuntimeError("the SMTP server did not start")

    def _serve(self, ready):
        from aiosmtpd.controller import Controller

        server = self

        class Counting:
            def __init__(self):
                self.generation = 0
                self.seen = set()

            async def handle_DATA(self, smtp, session, envelope):
                with server.lock:
                    if self.generation != server.generation.value:
                        self.generation, self.seen = server.generation.value, set()
                    self.seen.update(envelope.rcpt_tos)
                    server.messages.value += 1
                    server.recipients.value = len(self.seen)
                return "250 OK"

        controller = Controller(Counting(), hostname="127.0.0.1", port=self.port)
        controller.start()
        ready.set()
        signal.sigwait({signal.SIGTERM})
        controller.stop()

    def reset(self):
        with self.lock:
            self.messages.value = self.recipients.value = 0
            self.generation.value += 1

    def counts(self):
        with self.lock:
            return self.messages.value, self.recipients.value

    def stop(self):
        self.process.terminate()
        self.process.join(10)


# --- Database ------------------------------------------------------------------------------------------


def migrate(env):
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def seed(report_date):
    """Authors, posts and a week of daily views ending on the report date: INSERT ... SELECT, server side."""
    from django.db import connection

    first_day = report_date - timedelta(days=DAYS_OF_VIEWS - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO main_user (password, is_superuser, email, full_name, is_active, is_staff, date_joined,
                                   is_verified, verification_uuid, verification_sent_at, verified_at, receives_reports)
            SELECT '!', false, 'author' || g || '@bench.example', 'Author ' || g, true, true, now(),
                   true, gen_random_uuid(), now(), now(), true
            FROM generate_series(1, %s) AS g
            """,
            [AUTHORS],
        )
        cursor.execute(
            """
            INSERT INTO publisher_post (author_id, title, slug, content, content_html, excerpt, status,
                                        published_at, created_at, updated_at, view_count)
            SELECT u.id, 'Post ' || n || ' by author ' || u.id, 'a' || u.id || '-post-' || n,
                   'Some *Markdown*.', '<p>Some <em>Markdown</em>.</p>', 'Some Markdown.', 'published',
                   now() - interval '30 days', now() - interval '30 days', now(), 0
            FROM main_user AS u CROSS JOIN generate_series(1, %s) AS n
            """,
            [POSTS_PER_AUTHOR],
        )
        cursor.execute(
            """
            INSERT INTO publisher_dailypostviews (post_id, date, views)
            SELECT p.id, d::date, (random() * 200)::int
            FROM publisher_post AS p CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') AS d
            """,
            [first_day, report_date],
        )
        cursor.execute(
            """
            UPDATE publisher_post AS p SET view_count = 500 + v.total
            FROM (SELECT post_id, sum(views) AS total FROM publisher_dailypostviews GROUP BY post_id) AS v
            WHERE v.post_id = p.id
            """
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM publisher_dailypostviews")
        return cursor.fetchone()[0]


def database_counters():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()


# --- The worker ----------------------------------------------------------------------------------------


def start_worker(env):
    log = open(LOG_DIR / "bench-reports-worker.log", "w")
    command = [
        sys.executable, "-m", "celery", "-A", "bench.reports_worker", "worker",
        "--pool", "prefork", "--concurrency", str(WORKER_CONCURRENCY), "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--hostname", f"bench-reports-{os.getpid()}@%h",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    from quick_publisher.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited ({process.returncode}); see {log.name}")
        replies = app.control.ping(timeout=0.5)
        if any(name.startswith(f"bench-reports-{os.getpid()}@") for reply in replies for name in reply):
            return process
    raise RuntimeError(f"the worker did not answer; see {log.name}")


def stop_worker(process):
    process.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class CPUClock:
    """CPU seconds used by some process trees, and by the whole machine, between start() and stop()."""

    def __init__(self, **pids):
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.used = {}

    def _tree_seconds(self, process):
        total = 0.0
        for p in [process, *process.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
        return total

    def _machine(self):
        import psutil

        times = psutil.cpu_times()
        return times.user + times.system + times.nice + times.irq + times.softirq, psutil.cpu_count()

    def start(self):
        self._start = {name: self._tree_seconds(p) for name, p in self.processes.items()}
        self._machine_start, _ = self._machine()
        self._wall_start = time.perf_counter()
        return self

    def stop(self):
        self.used = {name: self._tree_seconds(p) - self._start[name] for name, p in self.processes.items()}
        machine, cpus = self._machine()
        wall = time.perf_counter() - self._wall_start
        self.machine_busy = (machine - self._machine_start) / (wall * cpus)
        return self


class MemorySampler(threading.Thread):
    """Peak memory of the worker's process tree: PSS summed (shared pages counted once), and RSS for reference.

    RSS is read every 0.1 s; PSS, which costs the kernel a walk over each process's pages (a few ms of CPU), every
    0.5 s, so that measuring does not take CPU from the worker it measures.
    """

    def __init__(self, pid):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak_pss = self.peak_rss = self.peak_process_rss = 0
        self.processes = 0
        self.stopping = threading.Event()

    def sample(self, pss):
        import psutil

        try:
            tree = [self.root, *self.root.children(recursive=True)]
            infos = [p.memory_full_info() if pss else p.memory_info() for p in tree]
        except psutil.Error:
            return
        self.processes = max(self.processes, len(tree))
        self.peak_rss = max(self.peak_rss, sum(i.rss for i in infos))
        self.peak_process_rss = max(self.peak_process_rss, max(i.rss for i in infos))
        if pss:
            self.peak_pss = max(self.peak_pss, sum(i.pss for i in infos))

    def run(self):
        for tick in itertools.count():
            if self.stopping.is_set():
                return
            self.sample(pss=tick % 5 == 0)
            self.stopping.wait(0.1)

    def stop(self):
        self.stopping.set()
        self.join()
        self.sample(pss=True)


# --- The three runs ------------------------------------------------------------------------------------


def render_messages(report_date):
    """Every author's report, rendered by the project's code once, as bytes ready for SMTP."""
    from publisher import reports
    from publisher.emails import view_count_report_email

    messages = []
    for chunk in reports.eligible_author_id_chunks():
        for report in reports.build_reports(author_ids=chunk, report_date=report_date):
            message = view_count_report_email(report)
            messages.append((message.from_email, message.recipients(), message.message().as_bytes(linesep="\r\n")))
    return messages


def send_over_one_connection(messages, port):
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for from_email, recipients, data in messages:
            smtp.sendmail(from_email, recipients, data)


def send_ceiling(messages, smtp):
    smtp.reset()
    cpu = CPUClock(sender=os.getpid(), smtp=smtp.process.pid).start()
    started = time.perf_counter()
    send_over_one_connection(messages, smtp.port)
    return Outcome("(a) ceiling, 1 connection", smtp.counts()[0], time.perf_counter() - started, cpu.stop())


def run_report_as_beat(worker, smtp):
    """Send the periodic task as beat does and wait for every chunk task; return what the worker recorded."""
    import redis
    from django_celery_beat.models import PeriodicTask

    from bench.reports_worker import RECORDS_KEY
    from publisher.schedules import DAILY_REPORT
    from quick_publisher.celery import app

    records_store = redis.Redis.from_url(REDIS_URL)
    records_store.delete(RECORDS_KEY)
    row = PeriodicTask.objects.get(name=DAILY_REPORT)
    sampler = MemorySampler(worker.pid)
    sampler.start()
    cpu = CPUClock(worker=worker.pid, smtp=smtp.process.pid).start()
    started = time.perf_counter()
    app.send_task(row.task, args=json.loads(row.args), kwargs=json.loads(row.kwargs),
                  headers={"periodic_task_name": row.name})

    records, chunks, last_email_at = [], None, None
    while True:
        records += [json.loads(r) for r in records_store.lpop(RECORDS_KEY, 1000) or []]
        parent = [r for r in records if r["task"] == row.task]
        if parent and chunks is None:
            chunks = parent[0]["result"]["chunks"]
        if last_email_at is None and smtp.counts()[0] >= AUTHORS:
            last_email_at = time.perf_counter() - started
        done = [r for r in records if r["task"] != row.task and r["state"] == "SUCCESS"]
        if chunks is not None and len(done) >= chunks:
            break
        if time.perf_counter() - started > RUN_TIMEOUT:
            raise RuntimeError(f"the report run did not finish in {RUN_TIMEOUT}s ({smtp.counts()[0]} emails)")
        time.sleep(0.01)
    wall = time.perf_counter() - started
    cpu.stop()
    sampler.stop()
    (LOG_DIR / "bench-reports-tasks.json").write_text(json.dumps(records, indent=1))
    return {"wall": wall, "last_email_at": last_email_at or wall, "records": records, "memory": sampler, "cpu": cpu}


TUTORIAL_REPORT_TEMPLATE = """
Here's how you did till now:

{% for post in posts %}
        "{{ post.title }}": viewed {{ post.view_count }} times |

{% endfor %}
"""


def tutorial_loop():
    """The tutorial's send_view_count_report, as written there (one task, one process)."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail
    from django.template import Context, Template

    from publisher.models import Post

    for user in get_user_model().objects.all():
        posts = Post.objects.filter(author=user)
        if not posts:
            continue
        template = Template(TUTORIAL_REPORT_TEMPLATE)
        send_mail(
            "Your QuickPublisher Activity",
            template.render(context=Context({"posts": posts})),
            "from@quickpublisher.dev",
            [user.email],
            fail_silently=False,
        )


class CountQueries:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


# --- Main ----------------------------------------------------------------------------------------------


def main():
    total_started = time.perf_counter()
    LOG_DIR.mkdir(exist_ok=True)
    smtp = CountingSMTPServer()  # forked before anything else starts threads
    env = {
        **os.environ,
        "ENV_FILE": os.devnull,  # not the developer's .env: production-like settings
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "SITE_URL": "https://bench.quickpublisher.example",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quick_publisher.settings")
    worker = None
    try:
        import django

        say(f"Database {DATABASE_URL}, broker {REDIS_URL}, SMTP 127.0.0.1:{smtp.port}")
        started = time.perf_counter()
        recreate_database(DATABASE_URL)
        migrate(env)
        django.setup()
        import redis
        from django.conf import settings
        from django.db import connection

        from publisher.models import ReportDelivery
        from publisher.reports import default_report_date

        report_date = default_report_date()
        views = seed(report_date)
        say(f"Seeded {AUTHORS} authors, {AUTHORS * POSTS_PER_AUTHOR} posts, {views} daily view rows "
            f"(report date {report_date}) in {time.perf_counter() - started:.1f}s")

        redis.Redis.from_url(REDIS_URL).flushdb()
        worker = start_worker(env)
        say(f"Worker: prefork, concurrency {WORKER_CONCURRENCY}, pid {worker.pid}; "
            f"chunks of {settings.REPORT_CHUNK_SIZE} authors")

        # (a) The ceiling, sent once before and once after the report run: this machine's speed drifts within
        # a minute, and one run of either case alone could land on a fast or a slow stretch.
        started = time.perf_counter()
        messages = render_messages(report_date)
        render_seconds = time.perf_counter() - started
        average_size = statistics.mean(len(m[2]) for m in messages)
        ceiling_before = send_ceiling(messages, smtp)

        # The report run.
        smtp.reset()
        before = database_counters()
        run = run_report_as_beat(worker, smtp)
        report = Outcome("report run (beat -> worker)", smtp.counts()[0], run["wall"], run["cpu"],
                         queries=sum(r["queries"] for r in run["records"]))
        time.sleep(1.5)  # PostgreSQL publishes a backend's statistics within a second of its transactions
        after = database_counters()
        recipients = smtp.counts()[1]
        deliveries = Counter(ReportDelivery.objects.filter(report_date=report_date).values_list("status", flat=True))

        ceiling_after = send_ceiling(messages, smtp)
        del messages
        ceiling = Outcome.combined("(a) ceiling, 1 connection", ceiling_before, ceiling_after)

        # (b) The baseline: the tutorial's loop.
        smtp.reset()
        counter = CountQueries()
        cpu = CPUClock(sender=os.getpid(), smtp=smtp.process.pid).start()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            tutorial_loop()
        baseline = Outcome("(b) tutorial loop", smtp.counts()[0], time.perf_counter() - started, cpu.stop(),
                           queries=counter.count)

        met = print_results(
            ceiling=ceiling, report=report, baseline=baseline, run=run, recipients=recipients, deliveries=deliveries,
            db_change=[a - b for a, b in zip(after, before)], render_seconds=render_seconds, average_size=average_size,
            ceiling_runs=(ceiling_before, ceiling_after),
        )
    finally:
        if worker is not None:
            stop_worker(worker)
        smtp.stop()
    say(f"\nWhole benchmark: {time.perf_counter() - total_started:.0f}s")
    return 0 if met else 1


class Outcome:
    def __init__(self, label, sent, seconds, cpu, queries=None):
        self.label, self.sent, self.seconds, self.cpu, self.queries = label, sent, seconds, cpu, queries
        self.rate = sent / seconds

    @classmethod
    def combined(cls, label, first, second):
        """Two runs of one case as one: their emails over their seconds, their CPU added up."""
        seconds = first.seconds + second.seconds
        cpu = types.SimpleNamespace(
            used={name: first.cpu.used[name] + second.cpu.used[name] for name in first.cpu.used},
            machine_busy=(first.cpu.machine_busy * first.seconds + second.cpu.machine_busy * second.seconds) / seconds,
        )
        return cls(label, first.sent + second.sent, seconds, cpu)

    def cpu_ms(self, name):
        return self.cpu.used[name] / max(self.sent, 1) * 1000


def print_results(*, ceiling, report, baseline, run, recipients, deliveries, db_change, render_seconds, average_size,
                  ceiling_runs):
    records = run["records"]
    parent = next(r for r in records if r["task"] == "publisher.tasks.send_view_count_report")
    chunks = [r for r in records if r is not parent]
    sent_per_chunk = [r["result"]["sent"] for r in chunks]
    queries_per_chunk = [r["queries"] for r in chunks]
    # Everything but the one "mark sent" UPDATE per email: what must not grow with the chunk's authors.
    fixed_per_chunk = [r["queries"] - r["result"]["sent"] for r in chunks]
    biggest = max(chunks, key=lambda r: r["result"]["sent"])
    memory = run["memory"]
    mb = 1024 * 1024

    say("")
    say(f"{'':28}{'emails':>7}{'seconds':>9}{'emails/s':>9}{'x ceiling':>10}{'DB queries':>11}"
        f"   CPU ms/email: sender  SMTP server   machine busy")
    for outcome, sender in ((ceiling, "sender"), (report, "worker"), (baseline, "sender")):
        queries = "-" if outcome.queries is None else outcome.queries
        say(f"{outcome.label:28}{outcome.sent:>7}{outcome.seconds:>9.2f}{outcome.rate:>9.0f}"
            f"{outcome.rate / ceiling.rate:>10.2f}{queries:>11}{outcome.cpu_ms(sender):>21.2f}"
            f"{outcome.cpu_ms('smtp'):>13.2f}{outcome.cpu.machine_busy:>15.0%}")
    say("  sender: smtplib in this process (a), the worker's process tree (report run), this process (b). "
        "Machine busy: all CPUs, everything running on the machine, not only this benchmark.")
    say("")
    say(f"Report run: {len(chunks)} chunk tasks; last email after {run['last_email_at']:.2f}s, "
        f"all chunks done after {run['wall']:.2f}s; messages average {average_size / 1024:.1f} KiB")
    say(f"  duplicates: {report.sent - recipients} (distinct recipients {recipients}); "
        f"deliveries by status {dict(deliveries)}")
    say(f"  queries: parent task {parent['queries']}; per chunk min {min(queries_per_chunk)} "
        f"median {statistics.median(queries_per_chunk):.0f} max {max(queries_per_chunk)} "
        f"(emails per chunk {min(sent_per_chunk)}-{max(sent_per_chunk)})")
    say(f"  per chunk = {min(fixed_per_chunk)}"
        + (f"-{max(fixed_per_chunk)}" if max(fixed_per_chunk) != min(fixed_per_chunk) else "")
        + " + 1 per email sent (the delivery's \"sent\" mark, written as soon as the SMTP server accepts it)")
    say("  the largest chunk's queries by kind: "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(biggest["kinds"].items(), key=lambda kv: -kv[1])))
    say(f"  PostgreSQL during the run (pg_stat_database, all clients): {db_change[0]} transactions, "
        f"{db_change[1]} rows inserted, {db_change[2]} rows updated")
    busy = sum(r["seconds"] for r in chunks) / (WORKER_CONCURRENCY * run["wall"])
    say(f"  chunk task time: median {statistics.median(r['seconds'] for r in chunks):.2f}s, "
        f"max {max(r['seconds'] for r in chunks):.2f}s; the pool's processes ran chunk tasks {busy:.0%} of the run")
    say(f"  peak worker memory ({memory.processes} processes): PSS {memory.peak_pss / mb:.0f} MB summed; "
        f"RSS {memory.peak_rss / mb:.0f} MB summed (shared pages counted in each), "
        f"largest process {memory.peak_process_rss / mb:.0f} MB")
    first, second = ceiling_runs
    say(f"Ceiling: {first.rate:.0f} emails/s before the report run, {second.rate:.0f} after (each {first.sent} "
        f"messages); the table shows both together. Rendering the messages beforehand took {render_seconds:.1f}s "
        f"in one process ({render_seconds / max(first.sent, 1) * 1000:.2f} ms each)")

    ratio = report.rate / ceiling.rate
    checks = [
        (f"throughput >= 0.5 x ceiling ({ratio:.2f})", ratio >= 0.5),
        (f"constant queries per chunk besides the per-email mark ({min(fixed_per_chunk)}-{max(fixed_per_chunk)})",
         max(fixed_per_chunk) - min(fixed_per_chunk) <= 1),
        (f"peak worker memory < {MEMORY_LIMIT_MB} MB (PSS {memory.peak_pss / mb:.0f} MB)",
         memory.peak_pss < MEMORY_LIMIT_MB * mb),
        (f"one email per author ({recipients}/{AUTHORS}, {report.sent - recipients} duplicates)",
         recipients == report.sent == AUTHORS and deliveries.get("sent") == AUTHORS),
    ]
    say("")
    for label, ok in checks:
        say(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return all(ok for _, ok in checks)

if __name__ == "__main__":
    sys.exit(main())
