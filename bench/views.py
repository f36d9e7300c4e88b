"""Post pages under load, and no view lost: `make bench-views`.

gunicorn serves the site as in production (gthread workers, DEBUG off, PostgreSQL, Redis) with the benchmark's
URLs on top (bench/views_urls.py); wrk loads each case in turn, round after round, so that the machine's drift
weighs on every case alike:
  (a)  a view returning a fixed string through the same middleware: the ceiling for any Django page;
  (b)  one hot published post, no cookies;
  (b2) the same post for a signed-in reader, an author reading a colleague's post (a real session cookie, and the
       CSRF cookie a browser keeps);
  (b3) no cookies, readers spread over BENCH_POSTS posts by Zipf(s=1.1);
  (a3) (a) requested as (b3) is, through wrk's Lua path cycle (a script's request() per request costs wrk
       CPU on the server's cores), for comparison: (b3)'s ceiling;
  (r)  (a) plus the post page's one Redis call, for comparison: the floor of any page counting views in Redis;
  (c)  the tutorial's naive counter (`post.view_count += 1; post.save()`), not a target.
publisher.counting.flush_views (the flush_view_counts task's work) runs every second during the load, as beat
runs it every minute. After each run the views counted in the database (after a final flush) are compared with
the requests served, from gunicorn's access log (wrk abandons the requests in flight at its deadline, which the
server still answers and counts). Web processes batch their views (publisher/counting/batch.py): gunicorn is sent
three graceful reloads (HUP) during a run of (b) after the rounds (4 x BENCH_SECONDS, not timed), and no view may
be lost. Last, a run of (b) in which one worker is SIGKILLed half-way: the views lost are printed, against that
worker's rate times VIEW_BATCH_INTERVAL.

Environment: BENCH_ROUNDS (5), BENCH_SECONDS per case and round (10), BENCH_WARMUP_SECONDS (2),
BENCH_SPREAD_WARMUP_SECONDS ((b3)'s warm-up, 30), BENCH_CASES (all; e.g. "b3" runs (a) and (b3)), BENCH_POSTS
(10000), BENCH_CONNECTIONS (32), BENCH_WORKERS x BENCH_THREADS (4 x 4), BENCH_POST_PAGE_CACHE=local (each
process's post page cache alone, without the shared tier: bench/views_settings.py), and common.py's database and
Redis.
"""

import collections
import os
import random
import signal
import statistics
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
SECONDS = int(os.environ.get("BENCH_SECONDS", 10))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", 2))
# (b3) reads thousands of pages, each cached per web process: a running site has them warm, so its warm-up is longer.
SPREAD_WARMUP_SECONDS = int(os.environ.get("BENCH_SPREAD_WARMUP_SECONDS", 30))
POSTS = int(os.environ.get("BENCH_POSTS", 10_000))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 32))
WORKERS = int(os.environ.get("BENCH_WORKERS", 4))
THREADS = int(os.environ.get("BENCH_THREADS", 4))
ZIPF_S = 1.1
SAMPLED_PATHS = 100_000
FLUSH_EVERY = 1.0  # seconds
MIN_REQUESTS = 100_000
# Requests/s of each post case against (a); every post case's p99 at most P99_LIMIT x (a)'s.
RATE_TARGETS = {"b": 0.85, "b2": 0.3, "b3": 0.75}
P99_LIMIT = 2
RELOADS = 3  # graceful reloads (HUP) during a run of (b) (else of the first post case) after the rounds


@dataclass
class Case:
    key: str
    name: str
    path: str
    headers: tuple = ()
    lua_script: Path = None
    counted_posts: dict = None  # a filter on Post for the posts whose views the case counts
    counts_views: bool = True  # through the site's counter, in Redis (not (c)'s)
    warmup_seconds: int = WARMUP_SECONDS
    runs: list = field(default_factory=list)
    served: int = 0
    counted: int = 0
    other_answers: int = 0

    @property
    def rps(self):
        return statistics.mean(run["rps"] for run in self.runs)

    @property
    def p99_ms(self):
        return statistics.median(run["p99_ms"] for run in self.runs)


def main():
    env = common.set_up(DJANGO_SETTINGS_MODULE="bench.views_settings", CONN_MAX_AGE="600")
    workdir = common.log_directory("views")
    server = None
    try:
        cases = create_cases(workdir)
        server, access_log = start_gunicorn(env, workdir)
        print(
            f"gunicorn: {WORKERS} workers x {THREADS} threads (gthread), DEBUG off; wrk: {CONNECTIONS} connections; "
            f"{ROUNDS} rounds of {SECONDS}s per case after {WARMUP_SECONDS}s of warm-up "
            f"({SPREAD_WARMUP_SECONDS}s for (b3)), cases taking turns; "
            f"flush_view_counts every {FLUSH_EVERY:.0f}s\n",
            flush=True,
        )
        for round_number in range(ROUNDS + 1):
            for case in cases:
                seconds = SECONDS if round_number else case.warmup_seconds
                run = run_case(case, server.base_url, seconds, access_log)
                if round_number:  # the warm-up's views are accounted for, its speed is not
                    case.runs.append(run)
            if round_number:
                print(
                    f"  round {round_number}: " + "  ".join(f"({c.key}) {c.runs[-1]['rps']:,.0f}/s" for c in cases),
                    flush=True,
                )
        reloading = next((c for c in cases if c.key == "b"), next((c for c in cases if c.counts_views), None))
        killed = None
        if reloading:
            reloaded_run(reloading, server, access_log)
            killed = killed_worker_run(reloading, server, access_log)
        return report(cases, killed)
    finally:
        if server is not None:
            common.stop(server)
        common.tear_down()


def create_cases(workdir):
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from publisher.models import Post

    author, naive_author = common.create_authors(2)
    common.create_posts([author], POSTS)
    common.create_posts([naive_author], 1)
    slugs = list(Post.objects.filter(author_id=author).order_by("pk").values_list("slug", flat=True))
    naive_slug = Post.objects.get(author_id=naive_author).slug
    print(f"Created {POSTS:,} published posts (and one for the naive counter)", flush=True)

    # (b2)'s reader is an author (verified, so staff) reading a colleague's post.
    reader = get_user_model().objects.create_user(
        "reader@bench.example",
        full_name="Signed-in Author",
        is_verified=True,
        verified_at=timezone.now(),
        is_staff=True,
    )
    browser = Client()
    browser.force_login(reader)  # a real session, stored by the configured SESSION_ENGINE
    # A browser also keeps the CSRF cookie that its first signed-in page set (the layout's logout form has a token);
    # the account page sets it without counting a view outside the server's access log.
    browser.get("/account/", HTTP_HOST="127.0.0.1")
    signed_in_cookies = "Cookie: " + "; ".join(
        f"{name}={browser.cookies[name].value}" for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    )

    # Rank k is read with weight 1/k^s; wrk cycles through a fixed sample, so every run replays the same mix.
    weights = [1 / rank**ZIPF_S for rank in range(1, len(slugs) + 1)]
    zipf_slugs = random.Random(13).choices(slugs, weights, k=SAMPLED_PATHS)
    site_posts, naive_posts = {"author_id": author}, {"author_id": naive_author}
    only = os.environ.get("BENCH_CASES")
    cases = [
        Case("a", "fixed string, same middleware", "/bench/minimal/", counts_views=False),
        Case(
            "a3",
            "(a), requested as (b3) requests",
            "/",
            lua_script=common.wrk_path_cycle([f"/bench/minimal/?{slug}" for slug in zipf_slugs], workdir / "a3.lua"),
            counts_views=False,
        ),
        Case("r", "(a) + the page's one Redis call", "/bench/redis-call/", counts_views=False),
        Case("b", "hot post, no cookies", f"/{slugs[0]}/", counted_posts=site_posts),
        Case(
            "b2", "hot post, signed-in reader", f"/{slugs[0]}/", headers=(signed_in_cookies,), counted_posts=site_posts
        ),
        Case(
            "b3",
            f"Zipf({ZIPF_S}) over {len(slugs):,} posts",
            "/",
            lua_script=common.wrk_path_cycle([f"/{slug}/" for slug in zipf_slugs], workdir / "zipf.lua"),
            counted_posts=site_posts,
            warmup_seconds=SPREAD_WARMUP_SECONDS,
        ),
        Case(
            "c",
            "naive view_count += 1; save()",
            f"/bench/naive/{naive_slug}/",
            counted_posts=naive_posts,
            counts_views=False,
        ),
    ]
    return [case for case in cases if not only or case.key in {"a", *only.split(",")}]  # (a), the baseline, always


class AccessLog:
    """gunicorn's access log, one "METHOD PATH STATUS PID" line per request, read a run at a time."""

    FORMAT = "%(m)s %(U)s %(s)s %(p)s"

    def __init__(self, path):
        self.path, self.offset = path, 0

    def read_new(self):
        answers, self.offset = self.written_since_last_read()
        return answers

    def peek_new(self):
        """The lines written since the last read_new(), leaving them to the next."""
        return self.written_since_last_read()[0]

    def written_since_last_read(self):
        """The lines written since the last read_new(), split, and where the log ends now."""
        with open(self.path) as log:
            log.seek(self.offset)
            answers = [line.split() for line in log.readlines()]
            return answers, log.tell()


def start_gunicorn(env, workdir):
    port = common.free_port()
    access_log = workdir / "access.log"
    server = common.start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "quick_publisher.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "gthread",
            "--threads",
            str(THREADS),
            "-c",
            "gunicorn.conf.py",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            AccessLog.FORMAT,
        ],
        workdir / "gunicorn.log",
        env,
        ready_text="Listening at",
    )
    server.base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # until every worker has booted far enough to answer
        try:
            with urllib.request.urlopen(server.base_url + "/bench/minimal/", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    log = AccessLog(access_log)
    time.sleep(1)
    log.read_new()  # the probes above are no case's
    return server, log


def run_case(case, base_url, seconds, access_log):
    """One wrk run of the case, with the periodic flush running; then its served and counted views added up."""
    before = views_in_database(case)
    with flushing_every(FLUSH_EVERY):
        run = common.run_wrk(
            base_url + case.path,
            seconds=seconds,
            connections=CONNECTIONS,
            headers=case.headers,
            lua_script=case.lua_script,
        )
    # The requests wrk abandoned at its deadline are still being answered, and each worker's last batch is sent.
    time.sleep(0.5 + 2 * float(os.environ.get("VIEW_BATCH_INTERVAL", 0.25)))
    answers = access_log.read_new()
    run["answers"] = answers
    served = sum(1 for method, _, status, _ in answers if method == "GET" and status == "200")
    case.served += served
    case.other_answers += len(answers) - served
    if case.counted_posts:
        case.counted += settled_views_in_database(case) - before
    return run


def settled_views_in_database(case):
    """The case's views in the database after final flushes, once they stop growing: a web process on a busy machine
    may send its last batch a little after its interval."""
    from publisher.counting import flush_views

    flush_views()
    views = views_in_database(case)
    for _ in range(10):
        time.sleep(0.5)
        flush_views()
        views, before = views_in_database(case), views
        if views == before:
            break
    return views


def views_in_database(case):
    """The views in the database of the posts the case counts (checked against their daily rows)."""
    from django.db.models import Sum

    from publisher.models import DailyPostViews, Post

    if not case.counted_posts:
        return 0
    posts = Post.objects.filter(**case.counted_posts)
    total = posts.aggregate(total=Sum("view_count"))["total"] or 0
    if not case.counts_views:
        return total
    daily = DailyPostViews.objects.filter(post__in=posts).aggregate(total=Sum("views"))["total"] or 0
    if daily != total:
        print(f"  !!! daily rows sum to {daily:,}, the posts' totals to {total:,}", flush=True)
    return total


class flushing_every:
    """flush_views every `seconds` in a thread while the load runs, as beat would (only more often)."""

    def __init__(self, seconds):
        self.seconds, self.done = seconds, threading.Event()
        self.thread = threading.Thread(target=self.keep_flushing)

    def keep_flushing(self):
        from django.db import connection

        from publisher.counting import flush_views

        while not self.done.wait(self.seconds):
            flush_views()
        connection.close()

    def __enter__(self):
        self.thread.start()

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


class signalling:
    """Send the signal to the process at each of these seconds into a run; `pid` may be a function that names the
    process at that moment. The processes signalled are in sent_to."""

    def __init__(self, pid, signal_number, at):
        self.pid, self.signal_number, self.sent_to = pid, signal_number, []
        self.timers = [threading.Timer(seconds, self.send) for seconds in at]

    def send(self):
        pid = self.pid() if callable(self.pid) else self.pid
        self.sent_to.append(pid)
        os.kill(pid, self.signal_number)

    def __enter__(self):
        for timer in self.timers:
            timer.start()

    def __exit__(self, *exc):
        for timer in self.timers:
            timer.join()


def reloaded_run(case, server, access_log):
    """A run of the case during which gunicorn reloads gracefully RELOADS times (HUP: new workers, the old ones
    finish their requests and exit): counted towards the views lost, not timed."""
    seconds = 4 * SECONDS
    with signalling(server.pid, signal.SIGHUP, [seconds * n / (RELOADS + 1) for n in range(1, RELOADS + 1)]):
        run = run_case(case, server.base_url, seconds, access_log)
    print(f"{RELOADS} graceful reloads (HUP) during a {seconds}s run of ({case.key}): {run['requests']:,} requests")
    return run


def worker_pid(answer):
    return int(answer[3].strip("<>"))


def killed_worker_run(case, server, access_log):
    """A run of the case in which one gunicorn worker is SIGKILLed half-way: its unsent batch is lost. Returns the
    views lost, and that worker's rate (its requests served until it died, per second)."""
    served, counted = case.served, case.counted

    def busiest_worker_so_far():  # wrk's connections may all have gone to some workers: one of those is killed
        return collections.Counter(worker_pid(answer) for answer in access_log.peek_new()).most_common(1)[0][0]

    started = time.monotonic()
    killing = signalling(busiest_worker_so_far, signal.SIGKILL, [SECONDS / 2])
    with killing:
        run = run_case(case, server.base_url, SECONDS, access_log)
    victim = killing.sent_to[0]
    victim_served = sum(1 for answer in run["answers"] if answer[2] == "200" and worker_pid(answer) == victim)
    lost = (case.served - served) - (case.counted - counted)
    case.served, case.counted = served, counted  # this run is reported on its own
    rate = victim_served / (SECONDS / 2)
    took = time.monotonic() - started
    print(f"kill -9 of worker {victim} half-way through a {SECONDS}s run of ({case.key}) ({took:.0f}s)", flush=True)
    return {"lost": lost, "rate": rate, "served": run["requests"]}


def ratio_by_round(case, baseline):
    """The median over the rounds of the case's requests/s over the baseline's in the same round. A round's cases run
    back to back, so a burst of load from elsewhere on the machine moves one round's ratio, not the median."""
    return statistics.median(run["rps"] / base["rps"] for run, base in zip(case.runs, baseline.runs, strict=True))


def report(cases, killed=None):
    a = cases[0]
    print(
        f"\n{'case':<42}{'req/s':>9}{'x (a)':>7}{'by round':>9}{'p99 ms':>8}{'x (a)':>7}{'served':>9}{'counted':>9}"
        f"{'lost':>7}{'errors':>7}"
    )
    for case in cases:
        counted = f"{case.counted:,}" if case.counted_posts else "-"
        lost = f"{case.served - case.counted:,}" if case.counted_posts else "-"
        errors = sum(run["errors"] for run in case.runs) + case.other_answers
        print(
            f"({case.key}) {case.name:<37}{case.rps:>9,.0f}{case.rps / a.rps:>7.2f}{ratio_by_round(case, a):>9.2f}"
            f"{case.p99_ms:>8.1f}{case.p99_ms / a.p99_ms:>7.2f}{case.served:>9,}{counted:>9}{lost:>7}{errors:>7}"
        )
    print(
        "req/s: mean of the rounds; by round: median of the rounds' (case) / (a), the targets' measure; p99: median of "
        "the rounds' p99; served: GET answered 200 (warm-up included), "
        "from gunicorn's access log;\ncounted: views added to the database (after a final flush); lost = served - "
        "counted; errors: wrk's socket errors and non-2xx/3xx, and answers other than GET 200.\n"
    )
    post_cases = [case for case in cases if case.counts_views]
    served = sum(case.served for case in post_cases)
    lost = sum(case.served - case.counted for case in post_cases)
    results = [
        common.verdict(
            ratio_by_round(case, a) >= RATE_TARGETS[case.key],
            f"({case.key}) {ratio_by_round(case, a):.2f} x (a) in requests/s, by round ({case.rps / a.rps:.2f} of the "
            f"means) (target >= {RATE_TARGETS[case.key]})",
        )
        for case in post_cases
    ]
    results += [
        common.verdict(
            case.p99_ms <= P99_LIMIT * a.p99_ms,
            f"({case.key}) p99 {case.p99_ms / a.p99_ms:.2f} x (a)'s (target <= {P99_LIMIT})",
        )
        for case in post_cases
    ]
    results += [
        common.verdict(
            case.served == case.counted, f"({case.key}) views lost: {case.served - case.counted:,} of {case.served:,}"
        )
        for case in post_cases
    ]
    results.append(
        common.verdict(
            lost == 0 and served >= MIN_REQUESTS,
            f"no view lost overall, {RELOADS} graceful reloads among the runs: {lost:,} lost of {served:,} served "
            f"(target 0, over >= {MIN_REQUESTS:,} requests)",
        )
    )
    if killed is not None:
        interval = float(os.environ.get("VIEW_BATCH_INTERVAL", 0.25))
        bound = killed["rate"] * interval
        results.append(
            common.verdict(
                killed["lost"] <= bound,
                f"kill -9 of one worker: {killed['lost']:,} views lost; that worker served {killed['rate']:,.0f}/s, "
                f"x the {interval}s interval = {bound:,.0f} (target: lost <= that)",
            )
        )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
