"""What one web process knows about views, in memory: the views it counted and has not had answered by Redis yet
(pending, then sending), and, from Redis's last answers, each post's total, each page's version and each reader's
views this minute. Every request thread and the process's sender (.batch) share one ProcessViews, under its lock.

A page's version is kept current by the sends: a page a request thread read from Redis is read again by the next
send (after it, the page is no longer "unconfirmed"), and each send reads the log of renewed pages from where the last
one stopped (page_cache.versions), so that every page known is current as of the send's start."""

import itertools
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
class PagesToRead:
    """What a send reads of the pages: the renewed since `since`, and these pages' versions one by one."""

    since: str | None  # the last read's RenewedPages.read_to; None: a first read
    slugs: list
    rememberings: dict  # {slug: the number of its remembering} of the unconfirmed pages when the send began
    every_page: bool  # slugs holds every page known


@dataclass(frozen=True)
class BatchReply:
    """What Redis answered a batch: each reader minute's views after it, each post's views, the versions read."""

    minutes: dict  # {minute_key: views counted in Redis that minute}
    totals: dict  # {post_id: BufferedViews}
    renewed: versions.RenewedPages
    page_versions: dict  # {slug: its page's part, or None when Redis lost it} of PagesToRead.slugs


class ProcessViews:
    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.pending, self.sending = Views(), Views()
        self.totals = {}  # {post_id: BufferedViews}
        self.minutes = {}  # {minute_key: views counted in Redis that minute}
        self.pages = {}  # {slug: KnownPage}
        # The pages request threads read from Redis that no send has read since: {slug: the number of its remembering}.
        self.unconfirmed = {}
        self.rememberings = itertools.count()
        # When every page known was last current (time.monotonic()), and versions.renewals_here then.
        self.every_page_as_of, self.every_page_renewals = float("-inf"), None
        # Where the next read of the renewed pages starts (None: read every page), and the site's version then.
        self.read_to, self.site_version = None, None

    # --- Request threads ---

    def known_page_version(self, slug, *, max_age):
        """The version of the page at `slug` if Redis said it within `max_age` seconds and the post's views are
        known; else None (the caller asks Redis)."""
        page = self.pages.get(slug)
        if page is None or page.post_id not in self.totals:
            return None
        as_of, renewals = page.as_of, page.renewals
        if as_of <= self.every_page_as_of and slug not in self.unconfirmed:  # current when every page last was
            as_of, renewals = self.every_page_as_of, self.every_page_renewals
        if time.monotonic() - as_of > max_age or renewals != versions.renewals_here:
            return None
        return page.version

    def remember_page(self, slug, *, post_id, version, views, as_of):
        with self.lock:
            self.pages[slug] = KnownPage(post_id, version, as_of, versions.renewals_here)
            self.unconfirmed[slug] = next(self.rememberings)
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

    def to_read(self, *, every_page=False):
        """What a send reads: the pages renewed since the last read, and the unconfirmed pages one by one; on a first
        read, or with `every_page`, every page known one by one."""
        with self.lock:
            every_page = every_page or self.read_to is None
            return PagesToRead(
                since=None if every_page else self.read_to,
                slugs=list(self.pages if every_page else self.unconfirmed),
                rememberings=dict(self.unconfirmed),
                every_page=every_page,
            )

    def answered(self, reply, reading, *, as_of, renewals):
        """Redis counted the batch being sent (over-the-limit views dropped) and read what it shows. Returns whether
        every page known is current as of `as_of`; if not (the log of renewed pages lost some, or the site's version
        was renewed), the sender reads every page."""
        with self.lock:
            self.sending = Views()
            earliest = int(time.time()) // 60 - 1
            minutes = {**self.minutes, **reply.minutes}
            self.minutes = {key: views for key, views in minutes.items() if minute_of(key) >= earliest}
            for post_id, views in reply.totals.items():
                known = self.totals.get(post_id)
                in_database = views.in_database if views.in_database is not None else known and known.in_database
                self.totals[post_id] = BufferedViews(views.unflushed, in_database)
            renewed = reply.renewed
            if renewed.site_version is None:
                self.pages.clear()
                self.unconfirmed.clear()
                self.read_to = None
                return True
            prefix = f"{renewed.site_version}:"
            current = reading.every_page or (renewed.complete and renewed.site_version == self.site_version)
            if current and not reading.every_page:
                for slug, page_part in renewed.page_versions.items():
                    if slug not in self.unconfirmed:  # else read one by one, now or by the next send
                        self.page_read(slug, prefix, page_part, as_of=as_of, renewals=renewals)
            for slug, page_part in reply.page_versions.items():
                remembering = self.unconfirmed.get(slug)
                if remembering is not None and remembering != reading.rememberings.get(slug):
                    continue  # read from Redis again since this send began: the next send reads it
                self.unconfirmed.pop(slug, None)
                self.page_read(slug, prefix, page_part, as_of=as_of, renewals=renewals)
            if current:
                self.every_page_as_of, self.every_page_renewals = as_of, renewals
                self.read_to, self.site_version = renewed.read_to, renewed.site_version
                if reading.every_page:
                    self.forget_totals_of_pages_gone()
            return current

    def page_read(self, slug, prefix, page_part, *, as_of, renewals):
        page = self.pages.get(slug)
        if page is None:
            return
        if page_part is None:  # Redis lost it: the next request reads it
            self.pages.pop(slug)
        elif page.version != prefix + page_part:  # unchanged: every_page_as_of says when it was last current
            self.pages[slug] = KnownPage(page.post_id, prefix + page_part, as_of, renewals)

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
