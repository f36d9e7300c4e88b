"""Bots: crawlers, link previewers, monitors, headless browsers and HTTP tools are not readers.

The verdict is crawlerdetect's (a port of JayBizzle's Crawler-Detect: more than 1,400 patterns, updated as crawlers
appear), remembered per user agent: asking it costs about half a millisecond, 200 times the old regex, but a site
sees the same few hundred agents over and over, and a remembered verdict costs a tenth of a microsecond
(bench/bots.py)."""

import functools
import threading

from crawlerdetect import CrawlerDetect

# Verdicts kept per process: a site's readers send a few hundred distinct agents a day; this keeps the long tail too.
VERDICTS_KEPT = 4096
# Only this much of an agent is read and remembered (gunicorn accepts 8,190 bytes), so the agents kept here and in
# crawlerdetect's own cache (1,024) take at most 5,120 x 1,000 characters per process, however long the agents sent.
# Every crawler names itself well before.
LONGEST_USER_AGENT = 1000

# One detector per process, made once. Its is_crawler() writes what matched on the instance (`matches`), which
# gunicorn's threads would share: they take turns. Only an agent not yet remembered asks it.
_detector = CrawlerDetect()
_detector_lock = threading.Lock()


def is_bot(user_agent):
    """Whether a request with this User-Agent header is not a person reading. No agent, or a blank one, is a bot:
    every browser sends one."""
    return remembered_verdict(user_agent[:LONGEST_USER_AGENT]) if user_agent else True


@functools.lru_cache(maxsize=VERDICTS_KEPT)
def remembered_verdict(user_agent):
    """crawlerdetect's verdict on this agent, asked once per agent while it stays among the VERDICTS_KEPT most
    recently seen."""
    if not user_agent.strip():
        return True
    with _detector_lock:
        return _detector.is_crawler(user_agent)
