"""What one web process knows about views, in memory: the views it counted and has not had answered by Redis yet
(pending, then sending), and, from Redis's last answers, each post's total, each page's version and each reader's
views this minute. Every request thread and the process's sender (.batch) share one ProcessViews, under its lock."""

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from ..page_cache import versions
from .buffer import BufferedViews


@dataclass(frozen=True)
class CountedView:
    """What a batch groups views by: Redis counts each group in one step."""

    post_id: int
    day: date  # the author's
    reader_hash: str = ""  # "" for a view counted with no reader (and no per-reader limit)
    minute_key: str = ""  # the reader's views this minute, across the site


class Views:
    """Views counted in this process, grouped; with their sums per post and per reader minute."""

    def __init__(self):
        self.groups = defaultdict(int)
        self.per_post = defaultdict(int)
        self.per_minute = defaultdict(int)
        self.size = 0

    def __bool__(self):
        return self.size > 0

    def add(self, view, views=1):
        self.groups[view] += views
        self.per_post[view.post_id] += views
        if view.minute_key:
            self.per_minute[view.minute_key] += views
        self.size += views

    def by_post_day(self):
        """{(post_id, day): views}, as the database counts them."""
        counts = defaultdict(int)
        for view, views in self.groups.items():
            counts[(view.post_id, view.day)] += views
        return dict(counts)


@dataclass(frozen=True)
class KnownPage:
    post_id: int
    version: str  # "<site>:<page>", as Redis had it
    as_of: float  # time.monotonic() when Redis was asked
    renewals: int  # versions.renewals_here then: a renewal in this process makes it unknown


@dataclass(frozen=True)
class BatchReply:
    """What Redis answered a batch: each reader minute's views after it, each post's views, the versions read."""

    minutes: dict  # {minute_key: views counted in Redis that minute}
    totals: dict  # {post_id: BufferedViews}
    site_version: str | None  # None: Redis lost it (made again from its clock by the next read)
    page_versions: dict  # {slug: its page's part, or None when Redis lost it}
    every_page: bool  # the versions of every page known when the send began


class ProcessViews:
    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.pending, self.sending = Views(), Views()
        self.totals = {}  # {post_id: BufferedViews}
        self.minutes = {}  # {minute_key: views counted in Redis that minute}
        self.pages = {}  # {slug: KnownPage}
        # When the versions of every page known were last read (time.monotonic()), and versions.renewals_here then.
        self.every_page_as_of, self.every_page_renewals = float("-inf"), None

    # --- Request threads ---

    def known_page_version(self, slug, *, max_age):
        """The version of the page at `slug` if Redis said it within `max_age` seconds and the post's views are
        known; else None (the caller asks Redis)."""
        page = self.pages.get(slug)
        if page is None or page.post_id not in self.totals:
            return None
        as_of, renewals = page.as_of, page.renewals
        if as_of <= self.every_page_as_of:  # known when every page's version was last read: read then
            as_of, renewals = self.every_page_as_of, self.every_page_renewals
        if time.monotonic() - as_of > max_age or renewals != versions.renewals_here:
            return None
        return page.version

    def remember_page(self, slug, *, post_id, version, views, as_of):
        with self.lock:
            self.pages[slug] = KnownPage(post_id, version, as_of, versions.renewals_here)
            self.totals[post_id] = views

    def count(self, view, *, limit):
        """Count the view unless its reader has counted `limit` views this minute (as far as this process knows:
        Redis checks again). Returns (counted, the batch's size)."""
        with self.lock:
            if view.minute_key:
                key = view.minute_key
                used = self.minutes.get(key, 0) + self.pending.per_minute[key] + self.sending.per_minute[key]
                if used >= limit:
                    return False, self.pending.size
            self.pending.add(view)
            return True, self.pending.size

    def shown(self, post_id):
        """The post's views as a page shows them: the last total Redis gave plus this process's views since."""
        with self.lock:
            known = self.totals.get(post_id, BufferedViews())
            mine = self.pending.per_post.get(post_id, 0) + self.sending.per_post.get(post_id, 0)
        return BufferedViews(unflushed=known.unflushed + mine, in_database=known.in_database)

    def not_yet_in_redis(self, post_id):
        with self.lock:
            return self.pending.per_post.get(post_id, 0) + self.sending.per_post.get(post_id, 0)

    # --- The sender ---

    def take(self):
        """The pending views become the batch being sent."""
        with self.lock:
            self.sending, self.pending = self.pending, Views()
            return self.sending

    def slugs(self, post_ids=None):
        """The slugs of the pages known (of these posts only, if given)."""
        with self.lock:
            return [slug for slug, page in self.pages.items() if post_ids is None or page.post_id in post_ids]

    def answered(self, reply, *, as_of, renewals):
        """Redis counted the batch being sent (over-the-limit views dropped) and read what it shows."""
        with self.lock:
            self.sending = Views()
            earliest = int(time.time()) // 60 - 1
            minutes = {**self.minutes, **reply.minutes}
            self.minutes = {key: views for key, views in minutes.items() if minute_of(key) >= earliest}
            for post_id, views in reply.totals.items():
                known = self.totals.get(post_id)
                in_database = views.in_database if views.in_database is not None else known and known.in_database
                self.totals[post_id] = BufferedViews(views.unflushed, in_database)
            if reply.site_version is None:
                self.pages.clear()
                return
            prefix = f"{reply.site_version}:"
            for slug, page_part in reply.page_versions.items():
                page = self.pages.get(slug)
                if page is None or page.as_of > as_of:  # forgotten, or read again since this send began
                    continue
                if page_part is None:
                    self.pages.pop(slug, None)
                elif page.version != prefix + page_part or not reply.every_page:
                    self.pages[slug] = KnownPage(page.post_id, prefix + page_part, as_of, renewals)
            if reply.every_page:
                self.every_page_as_of, self.every_page_renewals = as_of, renewals
                self.forget_totals_of_pages_gone()

    def forget_totals_of_pages_gone(self):
        """Keep the totals of the posts whose pages are known or whose views wait: no more than the pages."""
        kept = {page.post_id for page in self.pages.values()} | set(self.pending.per_post) | set(self.sending.per_post)
        if len(self.totals) > len(kept):
            self.totals = {post_id: views for post_id, views in self.totals.items() if post_id in kept}

    def counted_in_database(self, batch):
        """Redis was unreachable and the batch went to the database: its views are in the database's totals."""
        with self.lock:
            self.sending = Views()
            for post_id, views in batch.per_post.items():
                known = self.totals.get(post_id)
                if known is not None and known.in_database is not None:
                    self.totals[post_id] = BufferedViews(known.unflushed, known.in_database + views)

    def give_back(self, batch):
        """Neither Redis nor the database took the batch: its views wait for the next send."""
        with self.lock:
            self.sending = Views()
            for view, views in batch.groups.items():
                self.pending.add(view, views)

    def forget(self):
        """Drop everything (in a child process after a fork: the parent's views are the parent's to send)."""
        with self.lock:
            self.clear()


def minute_of(minute_key):
    return int(minute_key.rsplit(":", 1)[1])
