"""The flush of buffered views into PostgreSQL at growing sizes: `make bench-flush`.

For each size (post-days: posts x 10 days), the Redis buffer is filled as page views fill it
(publisher/counting/buffer.py: per post, HINCRBY of the field "<post_id>" and of "<post_id>:<day>" by the same
amount), with half of the daily rows already in the database and half new, so that both the update and the insert
paths run; then
publisher.counting.flush_views() is timed and its SQL statements counted. Sizes take turns, a few times each,
so that growth with the size shows apart from the machine's drift. After each flush the database's totals must have
grown by exactly what was buffered.

Environment: BENCH_FLUSH_SIZES (1000,10000,100000), BENCH_FLUSH_REPEATS (3), and common.py's database and Redis.
"""

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

SIZES = common.sizes("BENCH_FLUSH_SIZES", "1000,10000,100000")
REPEATS = int(os.environ.get("BENCH_FLUSH_REPEATS", 3))
DAYS = 10
TARGET_SIZE, TARGET_SECONDS, TARGET_STATEMENTS = 100_000, 5, 10
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def main():
    common.set_up()
    try:
        from django.utils import timezone

        (author_id,) = common.create_authors(1)
        post_ids = common.create_posts([author_id], max(SIZES) // DAYS)
        days = [timezone.localdate() - timedelta(days=n) for n in range(DAYS)]
        print(
            f"{len(post_ids):,} posts; sizes {', '.join(f'{size:,}' for size in SIZES)} post-days "
            f"(posts x {DAYS} days), taking turns, {REPEATS} times each\n",
            flush=True,
        )
        runs = {size: [] for size in SIZES}
        for repeat in range(1, REPEATS + 1):
            for size in SIZES:
                runs[size].append(flush_once(post_ids[: size // DAYS], days))
                seconds, statements, _ = runs[size][-1]
                print(f"  {repeat}: {size:>7,} post-days in {seconds:6.2f}s, {statements:>6,} statements", flush=True)
        return report(runs)
    finally:
        common.tear_down()


def flush_once(post_ids, days):
    """Buffer views for post_ids x days (half of the daily rows already there), flush, and check the totals.
    Returns (seconds, statements, mismatch)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from publisher.counting import flush_views
    from publisher.models import DailyPostViews

    DailyPostViews.objects.all().delete()
    DailyPostViews.objects.bulk_create(
        (DailyPostViews(post_id=post_id, date=day, views=1) for post_id in post_ids for day in days[::2]),
        batch_size=10_000,
    )
    buffered = buffer_views(post_ids, days)
    before = database_totals()
    with CaptureQueriesContext(connection) as statements:
        started = time.perf_counter()
        flush_views()
        seconds = time.perf_counter() - started
    grown = [after - before for after, before in zip(database_totals(), before, strict=True)]
    mismatch = grown != [buffered, buffered]
    if mismatch:
        print(
            f"  !!! MISMATCH: {buffered:,} views buffered, but the posts' totals grew by {grown[0]:,} and the "
            f"daily rows by {grown[1]:,}",
            flush=True,
        )
    # Transaction control (BEGIN, COMMIT, savepoints) is not work on the data: only the data's statements count.
    work = [q for q in statements.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]
    return seconds, len(work), mismatch


def buffer_views(post_ids, days):
    """Fill the buffer in the format of publisher/counting/buffer.py; return the views buffered."""
    import redis
    from django.conf import settings

    from publisher.counting import buffer as view_buffer

    pipe = redis.Redis.from_url(settings.REDIS_URL).pipeline(transaction=False)
    total = 0
    for post_id in post_ids:
        for day in days:
            views = random.randint(1, 5)
            pipe.hincrby(view_buffer.PENDING, str(post_id), views)
            pipe.hincrby(view_buffer.PENDING, f"{post_id}:{day.isoformat()}", views)
            total += views
    pipe.execute()
    return total


def database_totals():
    from django.db.models import Sum

    from publisher.models import DailyPostViews, Post

    return [
        Post.objects.aggregate(total=Sum("view_count"))["total"] or 0,
        DailyPostViews.objects.aggregate(total=Sum("views"))["total"] or 0,
    ]


def report(runs):
    print(f"\n{'post-days':>10}{'median s':>10}{'min s':>8}{'max s':>8}{'ms per 1,000':>14}{'statements':>12}")
    for size, results in runs.items():
        seconds = [s for s, _, _ in results]
        print(
            f"{size:>10,}{statistics.median(seconds):>10.3f}{min(seconds):>8.3f}{max(seconds):>8.3f}"
            f"{statistics.median(seconds) / size * 1e6:>14.1f}{max(n for _, n, _ in results):>12,}"
        )
    print("(ms per 1,000 post-days stays level if the time grows linearly with the size)\n")
    ok = [
        common.verdict(
            not any(m for results in runs.values() for _, _, m in results),
            "after every flush the database grew by exactly the views buffered",
        )
    ]
    ok += [
        common.verdict(
            max(n for _, n, _ in results) <= TARGET_STATEMENTS,
            f"{size:,} post-days: at most {max(n for _, n, _ in results):,} statements (target <= {TARGET_STATEMENTS})",
        )
        for size, results in runs.items()
    ]
    if TARGET_SIZE in runs:
        median = statistics.median(s for s, _, _ in runs[TARGET_SIZE])
        ok.append(
            common.verdict(
                median <= TARGET_SECONDS,
                f"{TARGET_SIZE:,} post-days flushed in {median:.2f}s (median; target <= {TARGET_SECONDS}s)",
            )
        )
    else:
        print(f"  [----] {TARGET_SIZE:,} post-days not measured (BENCH_FLUSH_SIZES): no verdict on time")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
