"""The daily report run through a real Celery worker, against an SMTP server that takes 20 ms per message:
`make bench-reports`.

For each number of authors (10 published posts each, views yesterday), a worker is started as the Procfile runs it
(`celery -A quick_publisher worker --concurrency=4`, prefork), then with a pool for I/O-bound work (threads, 4:
as many SMTP connections, so the same bound; one process's threads share one core), and
publisher.reports.tasks.queue_view_count_reports is sent by name, as beat sends it. Each pool process or thread
holds one SMTP connection at a time, so the most it can send is connections / 20 ms: the bound. Printed per run:
emails/s against that bound (target >= 0.8), peak memory of the worker's processes (PSS, target < 250 MB), CPU
per email (the worker's processes), and duplicates (an author mailed twice, by recipient and Message-ID).
When all the emails would take longer than BENCH_REPORT_WINDOW seconds, the rate is measured over that window
after the first email, and the run is stopped there.
The ceiling: before each run, as many processes as the pool has connections send a ready-made report (rendered
once) over one smtplib connection each, for CEILING_SECONDS, doing nothing else: what the sink and this machine
allow a sender that spends no time between messages; the run is also printed against it.
Statements per chunk: publisher.reports.sending.send_reports_to_authors called here once, for one chunk of
REPORT_CHUNK_SIZE authors, under CaptureQueriesContext (a worker cannot be counted from outside).

Environment: BENCH_REPORT_AUTHORS (10000,100000), BENCH_REPORT_POOLS (prefork:4,threads:4), BENCH_REPORT_WINDOW
(75 s), and common.py's database and Redis.
"""

import asyncio
import multiprocessing
import os
import re
import smtplib
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

AUTHOR_SIZES = common.sizes("BENCH_REPORT_AUTHORS", "10000,100000")
POOLS = [
    (pool, int(size))
    for pool, size in (
        item.split(":") for item in os.environ.get("BENCH_REPORT_POOLS", "prefork:4,threads:4").split(",")
    )
]
WINDOW = int(os.environ.get("BENCH_REPORT_WINDOW", 75))
CEILING_SECONDS = 15
POSTS_EACH = 10
SMTP_SECONDS = 0.02
TARGET_RATIO, MEMORY_LIMIT_MB = 0.8, 250
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
    sink.controller.start()
    env = common.set_up(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port))
    workdir = common.log_directory("reports")
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
            for pool, concurrency in POOLS:
                ceiling = smtp_ceiling(sink, message, concurrency)
                results.append({**run_report(sink, env, workdir, pool, concurrency, size), "ceiling": ceiling})
        return report(results)
    finally:
        sink.controller.stop()
        common.tear_down()


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


def run_report(sink, env, workdir, pool, concurrency, authors):
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
        f"--concurrency={concurrency}",
    ]  # the Procfile's
    if pool != "prefork":
        command.insert(-1, f"--pool={pool}")
    worker = common.start(command, workdir / f"worker-{authors}-{pool}.log", env, ready_text=" ready.")
    try:
        peak = PeakMemory(worker.pid)
        cpu_before = common.cpu_seconds(common.process_tree(worker.pid))
        app.send_task("publisher.reports.tasks.queue_view_count_reports")
        bound = concurrency / SMTP_SECONDS
        # Long enough for every email at half the bound; else a window after the first email.
        deadline = time.monotonic() + 60 + 2 * authors / bound
        while len(sink.arrivals) < authors and time.monotonic() < deadline:
            if sink.arrivals and time.monotonic() > sink.arrivals[0] + WINDOW:
                break
            time.sleep(0.1)
        cpu = common.cpu_seconds(common.process_tree(worker.pid)) - cpu_before
        arrivals = list(sink.arrivals)
        peak.stop()
    finally:
        common.stop(worker)
    seconds = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    result = {
        "authors": authors,
        "pool": f"{pool} x{concurrency}",
        "emails": len(arrivals),
        "seconds": seconds,
        "rate": (len(arrivals) - 1) / seconds,
        "bound": bound,
        "cpu_ms": cpu / max(len(arrivals), 1) * 1000,
        "pss_mb": peak.bytes / 2**20,
        "duplicates": sink.duplicates(),
        "complete": len(arrivals) >= authors,
    }
    print(f"  {result['pool']}: {result['emails']:,} emails in {seconds:.1f}s, {result['rate']:,.0f}/s", flush=True)
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
        f"\n{'authors':>8}  {'pool':<12}{'emails':>8}{'seconds':>9}{'emails/s':>10}{'bound/s':>9}{'x bound':>9}"
        f"{'ceiling/s':>11}{'x ceiling':>11}{'CPU ms/email':>14}{'peak PSS MB':>13}{'dups':>6}"
    )
    for r in results:
        window = "" if r["complete"] else f"  (not all: stopped {r['seconds']:.0f}s after the first email)"
        print(
            f"{r['authors']:>8,}  {r['pool']:<12}{r['emails']:>8,}{r['seconds']:>9.1f}{r['rate']:>10,.0f}"
            f"{r['bound']:>9,.0f}{r['rate'] / r['bound']:>9.2f}{r['ceiling']:>11,.0f}{r['rate'] / r['ceiling']:>11.2f}"
            f"{r['cpu_ms']:>14.2f}{r['pss_mb']:>13.0f}"
            f"{r['duplicates']:>6}{window}"
        )
    print(
        f"bound: the pool's concurrent SMTP connections / {SMTP_SECONDS * 1000:.0f} ms per message (reachable only "
        "while at least as many chunk tasks are left as the pool has processes or threads);\nceiling: as many "
        "processes sending a ready-made report back to back, nothing else;\nemails/s: the emails "
        "after the first over the seconds from the first to the last; CPU: the worker's processes, user + system\n"
    )
    ok = []
    for r in results:
        name = f"{r['authors']:,} authors, {r['pool']}:"
        ok.append(
            common.verdict(
                r["rate"] >= TARGET_RATIO * r["bound"],
                f"{name} {r['rate'] / r['bound']:.2f} x bound (target >= {TARGET_RATIO})",
            )
        )
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
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
