"""The bot check of a page view, per call: `make bench-bots`.

Every counted page view asks publisher.counting.bots.is_bot(user_agent). It now asks crawlerdetect (more than
1,400 patterns, about half a millisecond per question) and remembers each agent's verdict in an LRU of
VERDICTS_KEPT. Measured here, per call, over the stream of agents a site sees: a population of distinct agents (about
90% people's browsers, of many versions, devices and in-app browsers, and 10% crawlers and HTTP tools), requested
with Zipf(1.1) repeats. For each size, the LRUs are warmed by a stream of the same mix (a running site's are warm),
then rounds of fresh streams, the cases taking turns in each:

| case | what |
|---|---|
| lru | the product: `is_bot`, crawlerdetect behind the LRU |
| detector | crawlerdetect alone, as each LRU miss asks it: no cache at all (its class's CACHE_SIZE = 0) |
| old regex | the 14-line regex this replaced, on the lowered agent, on every call: the baseline |
| old regex+lru | that regex behind the old lru_cache(maxsize=1024), as the old product ran it (for comparison) |

Sizes: 100, 300 (a blog's day: the realistic mix), 1,000 and 10,000 distinct agents; 10,000 overflows the LRU, so
misses come back and the cost grows toward the detector's. Printed: µs per call (median over the rounds, min, max),
the LRU's miss rate, ratios, and where crawlerdetect and the old regex disagree on the realistic mix.

Target: at the realistic mix, the product's check per call costs no more than the old regex did.
Environment: BENCH_BOTS_DISTINCT (100,300,1000,10000), BENCH_BOTS_REALISTIC (300), BENCH_BOTS_CALLS per timed
stream (20000), BENCH_BOTS_ROUNDS (5). No database or Redis is touched.
"""

import functools
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

SIZES = common.sizes("BENCH_BOTS_DISTINCT", "100,300,1000,10000")
REALISTIC = int(os.environ.get("BENCH_BOTS_REALISTIC", 300))
CALLS = int(os.environ.get("BENCH_BOTS_CALLS", 20_000))
ROUNDS = int(os.environ.get("BENCH_BOTS_ROUNDS", 5))
DETECTOR_CALLS = max(CALLS // 100, 100)  # each costs about half a millisecond: fewer calls say as much
ZIPF_EXPONENT = 1.1
BOT_SHARE = 0.1

# The regex this replaced (publisher/counting/bots.py before crawlerdetect), copied as the baseline.
_OLD_BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|embedly|preview|curl|wget|python-requests|httpx|"
    r"headless|lighthouse|pingdom|monitor|scrapy|go-http-client|java/|okhttp|libwww|feedfetcher"
)


def old_is_bot(user_agent):
    return not user_agent or bool(_OLD_BOT_USER_AGENT.search(user_agent.lower()))


old_is_bot_with_lru = functools.lru_cache(maxsize=1024)(old_is_bot)


def main():
    os.environ.update(common.environment())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quick_publisher.settings")
    import django

    django.setup()
    from crawlerdetect import CrawlerDetect

    from publisher.counting import bots

    class UncachedDetector(CrawlerDetect):
        CACHE_SIZE = 0

    started = time.perf_counter()
    UncachedDetector().is_crawler("Mozilla/5.0 (compatible; warm-up)")
    print(f"crawlerdetect's first call in a process (compiles its patterns): {time.perf_counter() - started:.3f}s")
    cases = {
        "lru": (bots.is_bot, bots.remembered_verdict.cache_clear),
        "detector": (UncachedDetector().is_crawler, None),
        "old regex": (old_is_bot, None),
        "old regex+lru": (old_is_bot_with_lru, old_is_bot_with_lru.cache_clear),
    }
    print(
        f"LRU of {bots.VERDICTS_KEPT:,} verdicts; distinct agents {', '.join(f'{s:,}' for s in SIZES)}; "
        f"Zipf({ZIPF_EXPONENT}) streams of {CALLS:,} calls ({DETECTOR_CALLS:,} for the detector without a cache); "
        f"per size, {ROUNDS} rounds, cases taking turns\n",
        flush=True,
    )
    results = {(case, size): [] for case in cases for size in SIZES}
    misses = {size: [] for size in SIZES}
    for size in SIZES:
        population, weights = mix(size)
        if size == REALISTIC:
            agreement(population, bots.is_bot)
        rng = random.Random(size)
        warm_up = rng.choices(population, weights, k=CALLS)
        for function, clear in cases.values():
            if clear:  # a running site's LRU is warm: filled once per size, then kept across the rounds
                clear()
                run(function, warm_up)
        for round_number in range(1, ROUNDS + 1):
            timed = rng.choices(population, weights, k=CALLS)
            for case, (function, _) in cases.items():
                calls = timed[:DETECTOR_CALLS] if case == "detector" else timed
                before = bots.remembered_verdict.cache_info().misses
                results[case, size].append(run(function, calls) / len(calls) * 1e6)
                if case == "lru":
                    misses[size].append((bots.remembered_verdict.cache_info().misses - before) / len(calls))
            print(
                f"  {size:>6,} distinct, round {round_number}: "
                + ", ".join(f"{case} {results[case, size][-1]:.3f}" for case in cases)
                + f" µs/call; LRU misses {misses[size][-1]:.2%}",
                flush=True,
            )
    return report(results, misses, cases)


def run(function, user_agents):
    """Seconds to ask function about each of user_agents in turn."""
    started = time.perf_counter()
    for user_agent in user_agents:
        function(user_agent)
    return time.perf_counter() - started


def report(results, misses, cases):
    print(f"\nµs per call (median of {ROUNDS} rounds, [min-max])")
    print(f"{'distinct':>9}" + "".join(f"{case:>22}" for case in cases) + f"{'LRU misses':>12}")
    for size in SIZES:
        cells = "".join(
            f"{statistics.median(results[case, size]):>8.3f} [{min(results[case, size]):.2f}-"
            f"{max(results[case, size]):.2f}]".rjust(22)
            for case in cases
        )
        print(f"{size:>9,}{cells}{statistics.median(misses[size]):>11.2%}")
    print("\nratios (medians)")
    print(
        f"{'distinct':>9}{'lru/old regex':>15}{'lru/old regex+lru':>19}{'detector/lru':>14}{'detector/old regex':>20}"
    )
    median = {key: statistics.median(values) for key, values in results.items()}
    for size in SIZES:
        print(
            f"{size:>9,}{median['lru', size] / median['old regex', size]:>15.2f}"
            f"{median['lru', size] / median['old regex+lru', size]:>19.2f}"
            f"{median['detector', size] / median['lru', size]:>14.1f}"
            f"{median['detector', size] / median['old regex', size]:>20.1f}"
        )
    print()
    if REALISTIC not in SIZES:
        print(f"  [----] {REALISTIC:,} distinct agents not measured (BENCH_BOTS_DISTINCT): no verdict")
        return 0
    lru, old = median["lru", REALISTIC], median["old regex", REALISTIC]
    ok = common.verdict(
        lru <= old,
        f"{REALISTIC:,} distinct agents (the realistic mix): the product's check {lru:.3f} µs per call, "
        f"the old regex {old:.3f} µs (target: no more)",
    )
    return 0 if ok else 1


# --- The agents a site sees --------------------------------------------------------------------------------------


def mix(distinct):
    """(population, weights): distinct user agents, about 10% bots, shuffled, and Zipf(1.1) weights by rank."""
    rng = random.Random(distinct)
    population, seen = [], set()
    while len(population) < distinct:
        user_agent = (bot if rng.random() < BOT_SHARE else browser)(rng)
        if user_agent not in seen:
            seen.add(user_agent)
            population.append(user_agent)
    rng.shuffle(population)
    return population, [1 / rank**ZIPF_EXPONENT for rank in range(1, distinct + 1)]


def agreement(population, is_bot):
    """How the old regex and crawlerdetect differ on the realistic mix."""
    both = [(old_is_bot(user_agent), is_bot(user_agent)) for user_agent in population]
    print(
        f"On {len(population):,} distinct agents: crawlerdetect calls {sum(new for _, new in both):,} bots, the old "
        f"regex {sum(old for old, _ in both):,}; bots the old regex missed: "
        f"{sum(new and not old for old, new in both):,}, people it took for bots: "
        f"{sum(old and not new for old, new in both):,}\n",
        flush=True,
    )


WINDOWS = ["Windows NT 10.0; Win64; x64", "Windows NT 10.0; WOW64", "Windows NT 6.1; Win64; x64"]
MACS = ["Macintosh; Intel Mac OS X 10_15_7", "Macintosh; Intel Mac OS X 14_7_1", "Macintosh; Intel Mac OS X 13_6"]
LINUXES = ["X11; Linux x86_64", "X11; Ubuntu; Linux x86_64", "X11; CrOS x86_64 14541.0.0"]
PHONES = ["K", "Pixel 8", "Pixel 9 Pro", "SM-S921B", "SM-A546B", "moto g 5G (2024)", "2201117TG", "CPH2581", "V2250"]
IOS = ["18_6", "18_5", "18_1_1", "17_7", "17_6_1", "16_7_10", "26_0"]


def chrome(rng):
    return f"{rng.randint(120, 143)}.0.{rng.randint(6000, 7600)}.{rng.randint(0, 200)}"


def browser(rng):
    family = rng.choices(range(8), weights=[35, 15, 12, 10, 8, 6, 4, 10])[0]
    desktop = rng.choice(WINDOWS + MACS + LINUXES)
    firefox = rng.randint(115, 146)
    ios = rng.choice(IOS)
    webkit = "AppleWebKit/537.36 (KHTML, like Gecko)"
    android = f"Linux; Android {rng.randint(10, 16)}; {rng.choice(PHONES)}"
    return [
        f"Mozilla/5.0 ({desktop}) {webkit} Chrome/{chrome(rng)} Safari/537.36",
        f"Mozilla/5.0 ({android}) {webkit} Chrome/{chrome(rng)} Mobile Safari/537.36",
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        f"Version/{ios.split('_')[0]}.{rng.randint(0, 6)} Mobile/15E148 Safari/604.1",
        f"Mozilla/5.0 ({desktop.replace('_', '.')}; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0",
        f"Mozilla/5.0 ({desktop}) {webkit} Chrome/{chrome(rng)} Safari/537.36 Edg/{chrome(rng)}",
        f"Mozilla/5.0 (Linux; Android {rng.randint(11, 16)}; SAMSUNG {rng.choice(PHONES[3:5])}) {webkit} "
        f"SamsungBrowser/{rng.randint(24, 29)}.0 Chrome/{chrome(rng)} Mobile Safari/537.36",
        f"Mozilla/5.0 ({rng.choice(MACS)}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{rng.randint(16, 26)}.1 "
        "Safari/605.1.15",
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        f"Mobile/15E148 [FBAN/FBIOS;FBAV/{rng.randint(440, 540)}.0.0.{rng.randint(10, 60)}.{rng.randint(10, 120)};"
        f"FBBV/{rng.randint(600000000, 800000000)};FBDV/iPhone{rng.randint(12, 17)},{rng.randint(1, 5)};"
        f"FBMD/iPhone;FBSN/iOS;FBSV/{ios.replace('_', '.')};FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
    ][family]


def bot(rng):
    return rng.choice(
        [
            f"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{chrome(rng)} Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            f"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
            f"+http://www.bing.com/bingbot.htm) Chrome/{chrome(rng)} Safari/537.36",
            f"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.{rng.randint(0, 3)}; "
            "+https://openai.com/gptbot)",
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
            f"curl/8.{rng.randint(0, 17)}.{rng.randint(0, 3)}",
            f"python-requests/2.{rng.randint(20, 32)}.{rng.randint(0, 5)}",
            f"Go-http-client/{rng.randint(1, 2)}.{rng.randint(0, 1)}",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/{chrome(rng)} "
            "Safari/537.36",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
