"""The daily report run through a real Celery worker, against an SMTP server that takes 20 ms per message:
`make bench-reports`.

For each number of authors (10 published posts each, views yesterday), a worker is started as the Procfile runs it
(`celery -A quick_publisher worker --concurrency=4`, prefork) with REPORT_SMTP_CONNECTIONS (16) for the host, and
publisher.reports.tasks.queue_view_count_reports is sent by name, as beat sends it. Two bounds, both printed: the
connection bound (connections / 20 ms) and the CPU bound (cores / the worker's CPU per email, measured in the same
run); target: emails/s >= 0.8 x the lower one. Also printed per run: peak memory of the worker's processes (PSS,
target < 300 MB), CPU per email (the worker's processes, user + system; and the sink's, this process), the same over
the emails sent once the queueing task had ended (without the run's queueing, which a window charges to the emails in
it alone), and duplicates (an author mailed twice, by recipient and Message-ID).
With BENCH_REPORT_BASELINE set to a git ref, the same run is made, in turns, by a worker running that commit's code
(extracted with `git archive` into var/bench/reports-baseline, removed at the end; it reads the same database): CPU
per email side by side, and the old code at its own connections (4 before REPORT_SMTP_CONNECTIONS existed).
When all the emails would take longer than BENCH_REPORT_WINDOW seconds, the rate is measured over that window
after the first email, and the run is stopped there.
The ceiling: before each run, as many processes as the run has connections send a ready-made report (rendered
once) over one smtplib connection each, for CEILING_SECONDS, doing nothing else: what the sink and this machine
allow a sender that spends no time between messages; the run is also printed against it.
Statements per chunk: publisher.reports.sending.send_reports_to_authors called here once, for one chunk of
REPORT_CHUNK_SIZE authors, under CaptureQueriesContext (a worker cannot be counted from outside).
The sink listens on a port the kernel picks (free_port), so runs side by side do not clash.
A worker host of its own: the worker runs on BENCH_REPORT_WORKER_CORES of this machine's cores (half of them by
default, CPU affinity), and everything else on the others: this process with the sink, and the PostgreSQL and Redis
servers when they run here. Sharing its cores with them, as on one small machine, the worker could not use all of
its cores whatever its concurrency, and the CPU bound would not be what limits it; set the variable to the number of
cores to run so all the same. The CPU bound counts the worker's cores.

Environment: BENCH_REPORT_AUTHORS (10000,100000), REPORT_SMTP_CONNECTIONS (16), BENCH_REPORT_BASELINE (unset),
BENCH_REPORT_BASELINE_CONNECTIONS (4; set it to REPORT_SMTP_CONNECTIONS to compare two codes at the same concurrency),
BENCH_REPORT_TURNS (runs of each code per size, taking turns: 3 with a baseline, else 1; the targets are judged on the
medians over the turns),
BENCH_REPORT_WINDOW (75 s), BENCH_REPORT_WORKER_CORES (half the cores), and common.py's database and Redis.
"""

import asyncio
import io
import multiprocessing
import os
import re
import shutil
import smtplib
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

AUTHOR_SIZES = common.sizes("BENCH_REPORT_AUTHORS", "10000,100000")
CONNECTIONS = int(os.environ.get("REPORT_SMTP_CONNECTIONS", 16))
WORKER_CONCURRENCY = 4  # the Procfile's
THIS_TREE = "this tree"
BASELINE = os.environ.get("BENCH_REPORT_BASELINE", "")
# The baseline's connections: by default one per pool process, as before REPORT_SMTP_CONNECTIONS existed.
BASELINE_CONNECTIONS = int(os.environ.get("BENCH_REPORT_BASELINE_CONNECTIONS", 4))
WINDOW = int(os.environ.get("BENCH_REPORT_WINDOW", 75))
# Runs of each code per size, taking turns, so that the machine's drift between minutes weighs on both alike.
TURNS = int(os.environ.get("BENCH_REPORT_TURNS", 3 if BASELINE else 1))
CEILING_SECONDS = 15
POSTS_EACH = 10
SMTP_SECONDS = 0.02
TARGET_RATIO, MEMORY_LIMIT_MB = 0.8, 300
CORES = os.cpu_count()
WORKER_CORES = int(os.environ.get("BENCH_REPORT_WORKER_CORES", max(CORES // 2, 1)))
BASELINE_TREE = common.ROOT / "var" / "bench" / "reports-baseline"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


class SlowSMTPSink:
    """An aiosmtpd handler answering each message after 20 ms, as a distant mail server would, counting what came."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = common.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.reset()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(SMTP_SECONDS)
        self.arrivals.append(time.monotonic())
        self.recipients.update(envelope.rcpt_tos)
        self.message_ids.update(MESSAGE_ID.findall(envelope.original_content or envelope.content))
        return "250 OK"

    def reset(self):
        self.arrivals, self.recipients, self.message_ids = [], Counter(), Counter()

    def duplicates(self):
        return max(sum(n - 1 for n in counter.values()) for counter in (self.recipients, self.message_ids))


def main():
    sink = SlowSMTPSink()
    env = common.set_up(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port))
    workdir = common.log_directory("reports")
    cores = WorkerCores(WORKER_CORES)  # before the sink's thread starts: a thread starts on its starter's cores
    sink.controller.start()
    try:
        from django.utils import timezone

        # Bench authors are in TIME_ZONE (UTC): their yesterday is the server's.
        report_date, authors, results = timezone.localdate() - timedelta(days=1), 0, []
        for size in AUTHOR_SIZES:
            started = time.monotonic()
            new_authors = common.create_authors(size - authors, first_number=authors)
            common.create_daily_views(common.create_posts(new_authors, POSTS_EACH), report_date)
            common.vacuum_analyze()
            authors = size
            print(
                f"{size:,} authors, {size * POSTS_EACH:,} posts, views on {report_date} "
                f"(created in {time.monotonic() - started:.0f}s)",
                flush=True,
            )
            print(f"  statements for one chunk: {statements_per_chunk(sink, report_date)}", flush=True)
            message = ready_made_report(report_date)
            ceiling = smtp_ceiling(sink, message, CONNECTIONS)
            trees = [(THIS_TREE, common.ROOT, CONNECTIONS)]
            if BASELINE:
                trees.append((f"{BASELINE}", baseline_tree(), BASELINE_CONNECTIONS))
            for turn in range(1, TURNS + 1):
                for name, tree, connections in trees:
                    run = run_report(sink, env, workdir, cores, name, tree, connections, size)
                    results.append({**run, "ceiling": ceiling, "turn": turn})
        return report(results)
    finally:
        cores.restore()
        sink.controller.stop()
        common.tear_down()
        shutil.rmtree(BASELINE_TREE, ignore_errors=True)  # an old tree's code, not this project's to keep around


class WorkerCores:
    """The first `count` cores for the worker, the others for the rest: this process (and so the sink's thread and
    the senders of the ceiling), and the PostgreSQL and Redis servers found on this machine, whose affinity is
    restored at the end. With `count` equal to the cores, nothing is pinned."""

    def __init__(self, count):
        # A process's affinity, set by pid, is its main thread's: make this before starting any other thread.
        every = sorted(os.sched_getaffinity(0))
        self.worker, self.others = set(every[:count]), set(every[count:])
        self.original = {}
        if count >= len(every):
            return
        for pid in [os.getpid(), *common.process_tree(postgres_server_pid()), redis_server_pid()]:
            try:
                self.original[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, self.others)
            except OSError:  # a server on another host (no such pid here), or not ours to pin
                self.original.pop(pid, None)
        print(f"worker on cores {sorted(self.worker)}; this process, the sink and the servers on {sorted(self.others)}")

    def command(self, command):
        """The worker's command line, pinned to its cores (its child processes inherit them)."""
        if not self.original:
            return command
        return ["taskset", "--cpu-list", ",".join(map(str, sorted(self.worker))), *command]

    def restore(self):
        for pid, cores in self.original.items():
            try:
                os.sched_setaffinity(pid, cores)
            except OSError:
                pass


def postgres_server_pid():
    """The PostgreSQL server's main process: the parent of this connection's backend (pg_backend_pid)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [backend] = cursor.fetchone()
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:  # the server is on another host
        return -1


def redis_server_pid():
    import redis

    return redis.Redis.from_url(common.REDIS_URL).info("server")["process_id"]


def statements_per_chunk(sink, report_date):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from publisher.models import ReportDelivery
    from publisher.reports.eligibility import eligible_author_id_chunks
    from publisher.reports.periods import DAILY, Period
    from publisher.reports.sending import send_reports_to_authors

    ReportDelivery.objects.all().delete()  # the last run's: these authors would be skipped as already mailed
    chunk = next(eligible_author_id_chunks())
    with CaptureQueriesContext(connection) as statements:
        sent = send_reports_to_authors(
            author_ids=chunk, period=Period(DAILY, report_date), task_id="bench-statements"
        ).as_result()["sent"]
    ReportDelivery.objects.all().delete()  # so that the report runs mail these authors too
    sink.reset()
    return f"{len(statements)} for {len(chunk)} authors, {sent} emails ({len(statements) - sent} besides one per email)"


def ready_made_report(report_date):
    """One author's report as the bytes an SMTP client sends."""
    from publisher.reports.content import build_reports
    from publisher.reports.eligibility import eligible_author_id_chunks
    from publisher.reports.emails import view_count_report_email
    from publisher.reports.periods import DAILY, Period

    [report] = build_reports(author_ids=next(eligible_author_id_chunks())[:1], period=Period(DAILY, report_date))
    email = view_count_report_email(report)
    return email.from_email, email.to, email.message().as_bytes(linesep="\r\n")


def smtp_ceiling(sink, message, connections):
    """Emails/s of `connections` processes sending the ready-made report back to back over one connection each."""
    sink.reset()
    context = multiprocessing.get_context("spawn")
    senders = [
        context.Process(target=send_back_to_back, args=(sink.port, message, CEILING_SECONDS))
        for _ in range(connections)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    arrivals = sorted(sink.arrivals)
    sink.reset()
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(f"  ceiling, {connections} connections sending a ready-made report: {rate:,.0f}/s", flush=True)
    return rate


def send_back_to_back(port, message, seconds):
    from_email, to, content = message
    with smtplib.SMTP("127.0.0.1", port) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            client.sendmail(from_email, to, content)


def baseline_tree():
    """The code of BENCH_REPORT_BASELINE, extracted afresh into BASELINE_TREE (the virtualenv is this one's)."""
    tree = BASELINE_TREE
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", BASELINE], cwd=common.ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def run_report(sink, env, workdir, cores, name, tree, connections, authors):
    from publisher.models import ReportDelivery
    from quick_publisher.celery import app

    ReportDelivery.objects.all().delete()
    common.flush_redis()
    sink.reset()
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "quick_publisher",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={WORKER_CONCURRENCY}",
    ]  # the Procfile's
    env = {**env, "REPORT_SMTP_CONNECTIONS": str(connections), "PYTHONPATH": str(tree)}
    log = workdir / f"worker-{authors}-{'baseline' if tree != common.ROOT else 'tree'}.log"
    worker = common.start(cores.command(command), log, env, ready_text=" ready.", cwd=tree)
    try:
        peak = PeakMemory(worker.pid)
        cpu_before = common.cpu_seconds(common.process_tree(worker.pid))
        sink_cpu_before = time.process_time()
        queueing = app.send_task("publisher.reports.tasks.queue_view_count_reports")
        bound = connections / SMTP_SECONDS
        # Long enough for every email at half the bound; else a window after the first email.
        deadline = time.monotonic() + 60 + 2 * authors / bound
        queued = None  # (the worker's CPU, emails arrived) when the queueing task has ended
        while len(sink.arrivals) < authors and time.monotonic() < deadline:
            if sink.arrivals and time.monotonic() > sink.arrivals[0] + WINDOW:
                break
            if queued is None and queueing.ready():
                queued = common.cpu_seconds(common.process_tree(worker.pid)), len(sink.arrivals)
            time.sleep(0.1)
        cpu_after = common.cpu_seconds(common.process_tree(worker.pid))
        cpu = cpu_after - cpu_before
        sink_cpu = time.process_time() - sink_cpu_before
        arrivals = list(sink.arrivals)
        peak.stop()
    finally:
        common.stop(worker)
    seconds = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    cpu_ms = cpu / max(len(arrivals), 1) * 1000
    sink_cpu_ms = sink_cpu / max(len(arrivals), 1) * 1000
    # The emails sent once every chunk was queued: what each one costs, without the queueing of the whole run
    # (a cost per run, which a window that stops before the last email would charge to the emails in it alone).
    sending_cpu_ms = float("nan")
    if queued and len(arrivals) > queued[1]:
        sending_cpu_ms = (cpu_after - queued[0]) / (len(arrivals) - queued[1]) * 1000
    result = {
        "authors": authors,
        "code": name,
        "connections": connections,
        "emails": len(arrivals),
        "seconds": seconds,
        "rate": (len(arrivals) - 1) / seconds,
        "bound": bound,
        "worker_cores": len(cores.worker),
        "cpu_bound": len(cores.worker) / (cpu_ms / 1000),
        # Unless the worker has cores of its own, the sink runs on its cores (a relay would not): the bound it leaves.
        "machine_bound": len(cores.worker) / ((cpu_ms + (0 if cores.original else sink_cpu_ms)) / 1000),
        "cpu_ms": cpu_ms,
        "sending_cpu_ms": sending_cpu_ms,
        "sink_cpu_ms": sink_cpu_ms,
        "pss_mb": peak.bytes / 2**20,
        "duplicates": sink.duplicates(),
        "complete": len(arrivals) >= authors,
    }
    print(
        f"  {name}, {connections} connections: {result['emails']:,} emails in {seconds:.1f}s, "
        f"{result['rate']:,.0f}/s, CPU {cpu_ms:.2f} ms/email ({sending_cpu_ms:.2f} once all was queued)",
        flush=True,
    )
    return result


class PeakMemory:
    """The worker's processes' summed PSS, sampled twice a second in a thread; the peak in `bytes`."""

    def __init__(self, pid):
        self.pid, self.bytes, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.sample)
        self.thread.start()

    def sample(self):
        while True:
            self.bytes = max(self.bytes, common.pss_bytes(common.process_tree(self.pid)))
            if self.done.wait(0.5):
                return

    def stop(self):
        self.done.set()
        self.thread.join()


def report(results):
    print(
        f"\n{'authors':>8}  {'code':<11}{'turn':>5}{'conns':>6}"
        f"{'emails':>8}{'seconds':>8}{'emails/s':>9}{'conn bound':>11}"
        f"{'CPU bound':>10}{'+sink':>7}{'x lower':>8}{'x +sink':>8}{'x ceiling':>10}{'CPU ms/email':>13}"
        f"{'sending':>8}{'sink ms':>8}{'PSS MB':>7}{'dups':>5}"
    )
    for r in results:
        window = "" if r["complete"] else f"  (not all: stopped {r['seconds']:.0f}s after the first email)"
        lower = min(r["bound"], r["cpu_bound"])
        print(
            f"{r['authors']:>8,}  {r['code']:<11}{r['turn']:>5}{r['connections']:>6}"
            f"{r['emails']:>8,}{r['seconds']:>8.1f}"
            f"{r['rate']:>9,.0f}{r['bound']:>11,.0f}{r['cpu_bound']:>10,.0f}{r['machine_bound']:>7,.0f}"
            f"{r['rate'] / lower:>8.2f}{r['rate'] / min(r['bound'], r['machine_bound']):>8.2f}"
            f"{r['rate'] / r['ceiling']:>10.2f}{r['cpu_ms']:>13.2f}{r['sending_cpu_ms']:>8.2f}{r['sink_cpu_ms']:>8.2f}"
            f"{r['pss_mb']:>7.0f}"
            f"{r['duplicates']:>5}{window}"
        )
    print(
        f"conn bound: concurrent SMTP connections / {SMTP_SECONDS * 1000:.0f} ms per message; CPU bound: the worker's "
        f"{results[0]['worker_cores']} of {CORES} cores / its CPU per email (user + system, its processes), same run; "
        "+sink: the same, counting the sink's CPU per email when it shares the worker's cores;\n"
        "x lower: emails/s over the lower of conn bound and CPU bound; x +sink: over the lower "
        "of conn bound and +sink;\nceiling: the run's connections as processes sending a ready-made report back to "
        "back, nothing else; sending: CPU per email once every chunk was queued (without the run's queueing task);\n"
        "sink ms: the SMTP sink's CPU per email (this process);\n"
        "emails/s: the emails after the first over the seconds from the first to the last\n"
    )
    ok = []
    for r in results:
        name = f"{r['authors']:,} authors, {r['code']}, turn {r['turn']}:"
        ok.append(
            common.verdict(
                r["pss_mb"] < MEMORY_LIMIT_MB,
                f"{name} peak worker PSS {r['pss_mb']:.0f} MB (target < {MEMORY_LIMIT_MB})",
            )
        )
        ok.append(common.verdict(r["duplicates"] == 0, f"{name} {r['duplicates']} authors mailed twice"))
        if r["complete"]:
            ok.append(
                common.verdict(
                    r["emails"] == r["authors"], f"{name} {r['emails']:,} of {r['authors']:,} authors mailed"
                )
            )
    for size in sorted({r["authors"] for r in results}):
        ok.extend(size_verdicts(size, [r for r in results if r["authors"] == size]))
    return 0 if all(ok) else 1


def size_verdicts(size, runs):
    """The targets judged over the turns of one size: the median of this tree's rate against its lower bound, and the
    median of the turns' CPU ratios against the baseline (each turn's two runs one after the other)."""
    ok = []
    tree = [r for r in runs if r["code"] == THIS_TREE]
    rates = [r["rate"] / min(r["bound"], r["cpu_bound"]) for r in tree]
    ok.append(
        common.verdict(
            statistics.median(rates) >= TARGET_RATIO,
            f"{size:,} authors: {statistics.median(rates):.2f} x the lower bound, median of {listed(rates)} "
            f"(target >= {TARGET_RATIO})",
        )
    )
    baseline = [r for r in runs if r["code"] != THIS_TREE]
    if baseline:
        ratios = [new["cpu_ms"] / old["cpu_ms"] for new, old in zip(tree, baseline, strict=True)]
        queued = [new["sending_cpu_ms"] / old["sending_cpu_ms"] for new, old in zip(tree, baseline, strict=True)]
        ok.append(
            common.verdict(
                statistics.median(ratios) <= 0.5,
                f"{size:,} authors: CPU per email {statistics.median(ratios):.2f} x {baseline[0]['code']}'s, median "
                f"of {listed(ratios)} (target <= 0.5; once all was queued, {listed(queued)})",
            )
        )
    return ok


def listed(figures):
    return ", ".join(f"{figure:.2f}" for figure in figures)


if __name__ == "__main__":
    sys.exit(main())
