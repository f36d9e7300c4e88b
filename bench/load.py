"""Bounded load test of the whole platform: `make bench-load`.

For BENCH_SECONDS (60) it runs, at the same time and over loopback only, against the real platform (gunicorn
with the production settings, a Celery worker in a subprocess, a PostgreSQL database of its own, Redis):

  sign-ups     BENCH_SIGNUP_CLIENTS clients, each a loop of GET /signup/ then POST /signup/ with the form's
               CSRF token, each sign-up a new address, each queueing its verification email;
  post views   wrk on BENCH_VIEW_CONNECTIONS connections over the pages of BENCH_VIEWED_POSTS published posts,
               with flush_view_counts queued every FLUSH_EVERY seconds, as beat queues it (only more often);
  a report run send_view_count_report queued a third of the way in, as beat queues it: one report to each
               of BENCH_AUTHORS eligible authors (and none to the BENCH_OPTED_OUT authors who turned them off).

Emails go to an SMTP server in this process (aiosmtpd) that accepts and counts them by recipient. Then it stops
the load, waits (at most DRAIN_SECONDS) for the emails still queued, flushes the views once more, and prints:

  requests served    every answer gunicorn gave, by its access log (wrk abandons requests in flight at its
                     deadline; the server still answers and counts them)
  errors             answers >= 400, failed sign-ups, wrk's socket errors and timeouts: must be 0
  emails             sent vs expected, per kind: one verification email per saved sign-up and one report per
                     eligible author, none twice, none to anyone else: must match exactly
  views              counted (posts' totals and daily rows after a final flush) vs served (GETs of post pages
                     answered 200): must match exactly

It exits 1 if any of those does not hold. Everything it starts is stopped at the end, also on Ctrl-C.

Environment (all optional):
  BENCH_DATABASE_URL   PostgreSQL database to drop, create and use
                       (default postgres://postgres@127.0.0.1:5432/qp_bench_load)
  BENCH_REDIS_URL      Redis database, flushed first (default redis://127.0.0.1:6379/10); when nothing answers
                       there, a private redis-server is started for the run
  BENCH_SECONDS, BENCH_AUTHORS, BENCH_OPTED_OUT, BENCH_VIEWED_POSTS, BENCH_SIGNUP_CLIENTS, BENCH_VIEW_CONNECTIONS,
  BENCH_WEB_WORKERS, BENCH_WEB_THREADS, BENCH_CELERY_CONCURRENCY
Sign-ups all come from 127.0.0.1, so the per-IP sign-up rate limit is raised for the run (SIGNUP_RATE_LIMIT).
"""

import http.client
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import django_setup, find_wrk, free_port, recreate_database, start_gunicorn, stop  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qp_bench_load")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
SECONDS = int(os.environ.get("BENCH_SECONDS", 60))
AUTHORS = int(os.environ.get("BENCH_AUTHORS", 300))
OPTED_OUT = int(os.environ.get("BENCH_OPTED_OUT", 20))
VIEWED_POSTS = int(os.environ.get("BENCH_VIEWED_POSTS", 50))
SIGNUP_CLIENTS = int(os.environ.get("BENCH_SIGNUP_CLIENTS", 2))
VIEW_CONNECTIONS = int(os.environ.get("BENCH_VIEW_CONNECTIONS", 8))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", 2))
WEB_THREADS = int(os.environ.get("BENCH_WEB_THREADS", 4))
CELERY_CONCURRENCY = int(os.environ.get("BENCH_CELERY_CONCURRENCY", 2))
REPORT_CHUNK_SIZE = 50
FLUSH_EVERY = 2.0  # seconds
DRAIN_SECONDS = 120  # at most, after the load, for the emails still queued
PASSWORD = "a-long-load-test-password-42"
SIGNUP_PREFIX = "load-signup-"
# wrk sends no User-Agent of its own, and a request without one is taken for a bot and not counted.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# wrk: each request opens one of the viewed posts, at random; a JSON line of totals at the end.
WRK_SCRIPT = """
paths = {%(paths)s}
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "connect_errors": %%d, "read_errors": %%d, "write_errors": %%d, "non_2xx_3xx": %%d, ' ..
    '"timeouts": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, latency:percentile(50.0), latency:percentile(99.0)))
end
"""


def main():
    wrk = find_wrk("bench-load")
    workdir = Path(tempfile.mkdtemp(prefix="qp-bench-load-"))
    processes = []
    smtp = None
    try:
        redis_url = redis_for_the_run(workdir, processes)
        smtp = CountingSMTPServer()
        env = environment(redis_url, smtp.port)
        os.environ.update(env)
        recreate_database(DATABASE_URL)
        django_setup()
        eligible, opted_out, viewed_paths = create_authors_and_posts()

        port = free_port()
        access_log = workdir / "access.log"
        processes.append(start_worker(env, workdir / "worker.log"))
        processes.append(start_gunicorn(env, port, access_log, workdir / "gunicorn.log", workers=WEB_WORKERS,
                                        threads=WEB_THREADS, new_session=True))
        wait_until_ready(port, processes)
        print(f"Load: {SECONDS}s of sign-ups ({SIGNUP_CLIENTS} clients), post views (wrk, {VIEW_CONNECTIONS} "
              f"connections, {len(viewed_paths)} posts) and a report run ({len(eligible)} eligible authors); "
              f"gunicorn {WEB_WORKERS}x{WEB_THREADS} threads, a Celery worker x{CELERY_CONCURRENCY}; PostgreSQL "
              f"{urlparse(DATABASE_URL).path.lstrip('/')}, Redis {redis_url}; loopback only.", flush=True)

        signups = run_load(wrk, port, viewed_paths, workdir)
        print("Load stopped; waiting for the emails still queued and flushing the views.", flush=True)
        expected = expected_emails(eligible)
        smtp.wait_for(sum(expected.values()), timeout=DRAIN_SECONDS)
        time.sleep(2)  # duplicates, if any, would come now
        views = final_view_counts()
        requests = served_requests(access_log)
        return report(requests, signups, expected, smtp.received(), opted_out, views)
    finally:
        for process in reversed(processes):
            stop(process)
        if smtp is not None:
            smtp.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- Setting up --------------------------------------------------------------------------------------------


def redis_for_the_run(workdir, processes):
    """BENCH_REDIS_URL, flushed; or a private redis-server when nothing answers there."""
    import redis

    from quick_publisher.redis_server import redis_answers, start_private_redis

    if redis_answers(REDIS_URL):
        redis.Redis.from_url(REDIS_URL).flushdb()
        return REDIS_URL
    process, url = start_private_redis(workdir / "redis")
    processes.append(process)
    return url


def environment(redis_url, smtp_port):
    return {
        "DJANGO_SETTINGS_MODULE": "quick_publisher.settings",
        "ENV_FILE": os.devnull,  # never the developer's .env (DEBUG=1)
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "http://127.0.0.1",
        "DATABASE_URL": DATABASE_URL,
        "CONN_MAX_AGE": "600",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "SIGNUP_RATE_LIMIT": "100000/h",
        "REPORT_CHUNK_SIZE": str(REPORT_CHUNK_SIZE),
        "LOG_LEVEL": "WARNING",
    }


def create_authors_and_posts():
    """AUTHORS eligible authors and OPTED_OUT who turned reports off, two published posts each."""
    from django.utils import timezone

    from main.models import User
    from publisher.models import Post
    from publisher.rendering import excerpt_from_html, render_markdown

    now = timezone.now()
    users = User.objects.bulk_create(
        User(email=f"load-author-{n}@example.com", full_name=f"Load Author {n}", password="!", is_verified=True,
             verified_at=now, verification_sent_at=now, is_staff=True, receives_reports=n < AUTHORS)
        for n in range(AUTHORS + OPTED_OUT)
    )
    content = "A post for the load test.\n\n" + "Some *Markdown*, with a [link](https://example.com/). " * 20
    html = render_markdown(content)
    posts = Post.objects.bulk_create(
        Post(author=user, title=f"Load post {user.pk}-{k}", slug=f"load-post-{user.pk}-{k}", content=content,
             content_html=html, excerpt=excerpt_from_html(html), status=Post.Status.PUBLISHED, published_at=now)
        for user in users for k in range(2)
    )
    eligible = [user.email for user in users if user.receives_reports]
    opted_out = [user.email for user in users if not user.receives_reports]
    return eligible, opted_out, [f"/{post.slug}/" for post in posts[:VIEWED_POSTS]]


def start_worker(env, log_path):
    command = [sys.executable, "-m", "celery", "-A", "quick_publisher", "worker", "--concurrency",
               str(CELERY_CONCURRENCY), "--hostname", f"bench-load-{os.getpid()}@%h", "--without-mingle",
               "--without-gossip", "--loglevel", "WARNING"]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_until_ready(port, processes, timeout=60):
    """/healthz answers 200 (database and broker reachable) and the worker answers a ping."""
    from quick_publisher.celery import app

    deadline = time.monotonic() + timeout
    while True:
        if any(process.poll() is not None for process in processes):
            sys.exit("a process of the platform exited while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            web_ready = conn.getresponse().status == 200
            conn.close()
        except OSError:
            web_ready = False
        if web_ready and app.control.ping(timeout=0.5):
            return
        if time.monotonic() > deadline:
            sys.exit(f"the platform did not start within {timeout}s")
        time.sleep(0.2)


class CountingSMTPServer:
    """An SMTP server on loopback that accepts every message and counts them by recipient."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.counts = Counter()
        self.condition = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        with self.condition:
            self.counts.update(address.lower() for address in envelope.rcpt_tos)
            self.condition.notify_all()
        return "250 OK"

    def received(self):
        with self.condition:
            return Counter(self.counts)

    def wait_for(self, total, timeout):
        deadline = time.monotonic() + timeout
        with self.condition:
            while sum(self.counts.values()) < total and time.monotonic() < deadline:
                self.condition.wait(deadline - time.monotonic())

    def stop(self):
        self.controller.stop()


# --- The load ----------------------------------------------------------------------------------------------


def run_load(wrk, port, viewed_paths, workdir):
    """Sign-ups, post views and a report run at the same time; returns the sign-up clients' outcome."""
    from publisher.tasks import flush_view_counts, send_view_count_report

    script = workdir / "views.lua"
    script.write_text(WRK_SCRIPT % {"paths": ", ".join(f'"{path}"' for path in viewed_paths)})
    deadline = time.monotonic() + SECONDS
    signups = SignupLoad(port, deadline)
    wrk_process = subprocess.Popen(
        [wrk, "-t1", f"-c{VIEW_CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "10s", "-H", f"User-Agent: {BROWSER}",
         "-s", str(script), f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE, text=True,
    )
    signups.start()
    report_queued = False
    next_flush = time.monotonic() + FLUSH_EVERY
    while time.monotonic() < deadline:
        now = time.monotonic()
        if not report_queued and now > deadline - SECONDS * 2 / 3:
            send_view_count_report.delay()  # as beat sends it: yesterday's report
            report_queued = True
        if now >= next_flush:
            flush_view_counts.delay()
            next_flush = now + FLUSH_EVERY
        time.sleep(0.1)
    signups.join()
    wrk_output = wrk_process.communicate(timeout=60)[0]
    signups.wrk = json.loads(wrk_output.strip().splitlines()[-1])
    time.sleep(1)  # requests wrk abandoned at its deadline are still being answered
    return signups


class SignupLoad:
    """SIGNUP_CLIENTS clients signing up new people until the deadline, as a browser would (CSRF and all)."""

    def __init__(self, port, deadline):
        self.port = port
        self.deadline = deadline
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.signed_up = []
        self.errors = []
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(SIGNUP_CLIENTS)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join()

    def client(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.monotonic() < self.deadline:
            with self.lock:
                n = next(self.numbers)
            email = f"{SIGNUP_PREFIX}{n}@example.com"
            try:
                outcome = self.sign_up(conn, email, n)
            except (OSError, http.client.HTTPException) as exc:
                outcome = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self.lock:
                if outcome is None:
                    self.signed_up.append(email)
                else:
                    self.errors.append(f"sign-up {email}: {outcome}")
        conn.close()

    @staticmethod
    def sign_up(conn, email, n):
        conn.request("GET", "/signup/", headers={"User-Agent": BROWSER})
        response = conn.getresponse()
        page = response.read().decode()
        if response.status != 200:
            return f"GET /signup/ answered {response.status}"
        # The CSRF cookie is marked Secure (production settings): sent back by hand over plain loopback HTTP.
        cookie = next(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") if c.startswith("csrftoken="))
        form = urlencode({
            "csrfmiddlewaretoken": CSRF_FIELD.search(page).group(1), "email": email, "full_name": f"Load Reader {n}",
            "password1": PASSWORD, "password2": PASSWORD,
        })
        conn.request("POST", "/signup/", body=form, headers={
            "User-Agent": BROWSER, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
        })
        response = conn.getresponse()
        response.read()
        if response.status != 302 or not response.getheader("Location", "").endswith("/signup/done/"):
            return f"POST /signup/ answered {response.status}"
        return None


# --- Counting ----------------------------------------------------------------------------------------------


def expected_emails(eligible):
    """One verification email per sign-up the database holds, one report per eligible author."""
    from main.models import User

    signups = User.objects.filter(email__startswith=SIGNUP_PREFIX).values_list("email", flat=True)
    return Counter({**{email.lower(): 1 for email in signups}, **{email.lower(): 1 for email in eligible}})


def final_view_counts():
    """Flush what is still buffered (a flush the worker is running may hold a batch: wait for it), then add up."""
    from django.db.models import Sum

    from publisher import view_buffer
    from publisher.models import DailyPostViews, Post
    from publisher.services import flush_view_counts

    client = view_buffer.client()
    deadline = time.monotonic() + 30
    while client.exists(view_buffer.PENDING, view_buffer.FLUSHING) and time.monotonic() < deadline:
        flush_view_counts()
        time.sleep(0.2)
    return {
        "totals": Post.objects.aggregate(total=Sum("view_count"))["total"] or 0,
        "daily": DailyPostViews.objects.aggregate(total=Sum("views"))["total"] or 0,
        "still_buffered": client.exists(view_buffer.PENDING, view_buffer.FLUSHING),
    }


def served_requests(access_log):
    statuses = Counter()
    views = 0
    with open(access_log) as log:
        for line in log:
            method, path, status = line.split()
            statuses[status] += 1
            if method == "GET" and status == "200" and path.startswith("/load-post-"):
                views += 1
    return {"total": sum(statuses.values()), "by_status": statuses, "views": views}


def report(requests, signups, expected, received, opted_out, views):
    from main.models import User

    server_errors = {status: n for status, n in requests["by_status"].items() if int(status) >= 400}
    wrk = signups.wrk
    wrk_errors = {k: wrk[k] for k in ("connect_errors", "read_errors", "write_errors", "non_2xx_3xx", "timeouts")
                  if wrk[k]}
    errors = sum(server_errors.values()) + len(signups.errors) + sum(wrk_errors.values())

    verification_expected = sum(1 for address in expected if address.startswith(SIGNUP_PREFIX))
    report_expected = sum(expected.values()) - verification_expected
    verification_sent = sum(n for address, n in received.items() if address.startswith(SIGNUP_PREFIX))
    report_sent = sum(received.values()) - verification_sent
    twice = {address: n for address, n in received.items() if n > 1}
    unexpected = {address: n for address, n in received.items() if address not in expected}
    missing = [address for address in expected if address not in received]
    saved = User.objects.filter(email__startswith=SIGNUP_PREFIX).count()

    print()
    print(f"requests served   {requests['total']:,} "
          f"({', '.join(f'{status}: {n:,}' for status, n in sorted(requests['by_status'].items()))}); "
          f"wrk p50 {wrk['p50_us'] / 1000:.1f} ms, p99 {wrk['p99_us'] / 1000:.1f} ms on the post pages")
    print(f"errors            {errors}" + (f"  (answers >= 400: {server_errors}; failed sign-ups: "
                                           f"{len(signups.errors)}; wrk: {wrk_errors})" if errors else ""))
    for line in signups.errors[:5]:
        print(f"                  {line}")
    print(f"sign-ups          {len(signups.signed_up):,} answered 302, {saved:,} saved")
    print(f"emails            {sum(received.values()):,} sent, {sum(expected.values()):,} expected: "
          f"verification {verification_sent:,} / {verification_expected:,}, reports {report_sent:,} / "
          f"{report_expected:,} (and 0 / 0 to the {len(opted_out)} authors who turned reports off)")
    if twice or unexpected or missing:
        print(f"                  twice: {len(twice)}, unexpected: {len(unexpected)}, missing: {len(missing)}")
    print(f"views             {views['totals']:,} counted (daily rows: {views['daily']:,}), {requests['views']:,} "
          f"served")

    failures = []
    if errors:
        failures.append(f"{errors} errors")
    if saved != len(signups.signed_up):
        failures.append(f"{saved} sign-ups saved, {len(signups.signed_up)} answered as done")
    if received != expected:
        failures.append("emails sent differ from the emails expected")
    if not views["totals"] == views["daily"] == requests["views"] or views["still_buffered"]:
        failures.append("views counted differ from views served")
    print()
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("OK: no errors, every expected email sent exactly once, every view served counted exactly once.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
