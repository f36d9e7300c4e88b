"""What a web process pays to keep its pages' versions current, at growing numbers of pages known:
`make bench-page-versions`.

A web process serves a page from memory only while the page's version is current (publisher/counting/batch.py), so
each send of its view batch also reads what changed among the pages it knows. For each size (pages known), one
process learns that many pages as request threads do, then two ways of reading them take turns, each timed over
several sends with one page renewed by another process before each:

  (full) every page's version read one by one, as each process did twice a second before the log of renewed pages,
         and as a send still does when that log cannot say what changed;
  (log)  a send as it is: the pages renewed since the last send, from the log (publisher/page_cache/versions.py).

Printed: CPU and wall time per read, in this process (the sender is a thread of a web process: its CPU is taken
from the requests, and it holds the GIL while it parses), with each size's (log) / (full), and whether every read saw
the renewal. Target: (log) costs the same whatever the pages known (its median at the largest size within 2 x its
median at the smallest), and every renewal is seen.

Environment: BENCH_PAGE_VERSION_SIZES (1000,10000,100000), BENCH_PAGE_VERSION_READS (20 per case, size and turn),
BENCH_PAGE_VERSION_TURNS (3), and common.py's database and Redis.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

SIZES = common.sizes("BENCH_PAGE_VERSION_SIZES", "1000,10000,100000")
READS = int(os.environ.get("BENCH_PAGE_VERSION_READS", 20))
TURNS = int(os.environ.get("BENCH_PAGE_VERSION_TURNS", 3))
GROWTH_LIMIT = 2


def main():
    common.set_up()
    try:
        print(
            f"Pages known: {', '.join(f'{size:,}' for size in SIZES)}; (full) and (log) taking turns, {TURNS} turns "
            f"of {READS} reads each, one page renewed by another process before each read\n",
            flush=True,
        )
        times = {(case, size): [] for case in ("full", "log") for size in SIZES}
        missed = 0
        for size in SIZES:
            slugs = pages_known(size)
            for turn in range(1, TURNS + 1):
                for case in ("full", "log"):
                    cpu, wall, misses = timed_reads(case, slugs)
                    times[case, size] += cpu
                    missed += misses
                    print(
                        f"  {size:>7,} pages, turn {turn}, ({case}): CPU {statistics.median(cpu) * 1e3:7.2f} ms, "
                        f"wall {statistics.median(wall) * 1e3:7.2f} ms per read (medians)",
                        flush=True,
                    )
        return report(times, missed)
    finally:
        common.tear_down()


def pages_known(size):
    """A fresh process's knowledge of `size` pages, each read from Redis as a request thread reads a page it does not
    know, then confirmed by a send."""
    from publisher.counting import batch
    from publisher.counting.buffer import BufferedViews
    from publisher.page_cache import versions

    common.flush_redis()
    batch.process_views.forget()
    slugs = [f"a-post-about-counting-number-{n}" for n in range(size)]
    for post_id, slug in enumerate(slugs, 1):
        as_of = time.monotonic()
        version = versions.current_page_version(slug)
        batch.process_views.remember_page(slug, post_id=post_id, version=version, views=BufferedViews(), as_of=as_of)
    batch.sender.send()
    return slugs


def timed_reads(case, slugs):
    """READS reads of the case's kind, each after another process renewed one page. Returns the CPU and wall seconds
    of each read, and how many reads did not see their renewal."""
    from publisher.counting import batch
    from publisher.page_cache import versions

    read = batch.sender.read_every_page if case == "full" else batch.sender.send
    cpu, wall, misses = [], [], 0
    for n in range(READS):
        slug = slugs[(n * 7919) % len(slugs)]
        renewals = versions.renewals_here
        versions.renew_page_versions([slug], kept=versions.page_version_kept())
        versions.renewals_here = renewals  # another process's renewal: this one forgets nothing
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        read()
        cpu.append(time.process_time() - cpu_before)
        wall.append(time.perf_counter() - wall_before)
        known = batch.process_views.known_page_version(slug, max_age=batch.PAGE_VERSION_MAX_AGE)
        misses += known != versions.current_page_version(slug)
    return cpu, wall, misses


def report(times, missed):
    print(f"\n{'pages known':>12}{'(full) CPU ms':>15}{'(log) CPU ms':>14}{'(log) / (full)':>16}")
    for size in SIZES:
        full, log = statistics.median(times["full", size]), statistics.median(times["log", size])
        print(f"{size:>12,}{full * 1e3:>15.2f}{log * 1e3:>14.2f}{log / full:>16.3f}")
    print("(medians over every read of the size; a process sends every 0.25 s, and read every page twice a second)\n")
    smallest, largest = statistics.median(times["log", SIZES[0]]), statistics.median(times["log", SIZES[-1]])
    results = [
        common.verdict(missed == 0, f"every read saw the page renewed before it ({missed} missed)"),
        common.verdict(
            largest <= GROWTH_LIMIT * smallest,
            f"(log) at {SIZES[-1]:,} pages known costs {largest / smallest:.2f} x its cost at {SIZES[0]:,} "
            f"(target <= {GROWTH_LIMIT})",
        ),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
