"""Views batched in each web process: a page served from the process's page cache counts its view in memory
(.process_views) and costs no network round trip; a sender thread sends the views to Redis in one call per batch, at
most every VIEW_BATCH_INTERVAL seconds and at once past VIEW_BATCH_SIZE views. Redis counts them as a single visit
did (the per-reader limit checked for each, the readers added to the day's HyperLogLog) and answers with the batch's
posts' views, the pages renewed since the last send (the log of renewed pages, page_cache.versions) and the versions
of the pages request threads read since, so that an edit is seen everywhere within PAGE_VERSION_MAX_AGE.

Loss: a graceful exit sends the pending batch first (the gunicorn worker_exit hook in gunicorn.conf.py, and atexit
once the request threads are done); a process killed outright loses at most the views of its last interval. While
Redis is unreachable, a batch is counted in the database, as single views are.
"""

import atexit
import logging
import os
import threading
import time
import uuid

import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from quick_publisher.redis_client import client, registered_script

from ..page_cache import versions
from .buffer import FLUSHING, IN_DATABASE, PENDING, BufferedViews
from .flush import add_views_to_database
from .process_views import BatchReply, CountedView, ProcessViews, Views
from .readers import READER_MINUTE_KEPT, READERS_KEPT, readers_key

logger = logging.getLogger(__name__)

# A page known to this process is served without asking Redis only while its version is this fresh (seconds).
PAGE_VERSION_MAX_AGE = 1.0

# KEYS: 1 pending views, 2 views flushing, 3 views in the database, then for each group: the readers of its post that
#       day, the reader's views this minute (both its post's readers key again when the group has no reader).
# ARGV: 1 the readers' lifetime, 2 the lifetime of a reader's minute, 3 the views a reader may count a minute,
#       4 the number of groups, then for each group: its post id, day, views and reader hash ('' for none); then the
#       post ids whose views to return.
# Returns {for each group: views of the reader that minute after it (0 without a reader)}, then for each post asked:
# unflushed views, views in the database or nil.
SEND_BATCH = """
local limit, groups = tonumber(ARGV[3]), tonumber(ARGV[4])
local minutes = {}
for g = 0, groups - 1 do
  local post_id, day, views, reader = ARGV[5 + 4 * g], ARGV[6 + 4 * g], tonumber(ARGV[7 + 4 * g]), ARGV[8 + 4 * g]
  local readers, minute = KEYS[4 + 2 * g], KEYS[5 + 2 * g]
  local counted, after = views, 0
  if reader ~= '' then
    local used = tonumber(redis.call('GET', minute) or '0')
    counted = math.max(0, math.min(views, limit - used))  -- the views past the limit: not counted, nothing written
    after = used
    if counted > 0 then
      after = redis.call('INCRBY', minute, counted)
      if after == counted then
        redis.call('EXPIRE', minute, ARGV[2])
      end
    end
  end
  if counted > 0 then
    redis.call('HINCRBY', KEYS[1], post_id, counted)
    redis.call('HINCRBY', KEYS[1], post_id .. ':' .. day, counted)
    if reader ~= '' then
      redis.call('PFADD', readers, reader)
      redis.call('EXPIRE', readers, ARGV[1])
    end
  end
  minutes[#minutes + 1] = after
end
local reply = minutes
for i = 5 + 4 * groups, #ARGV do
  local post_id = ARGV[i]
  local pending = tonumber(redis.call('HGET', KEYS[1], post_id) or '0')
  reply[#reply + 1] = pending + tonumber(redis.call('HGET', KEYS[2], post_id) or '0')
  reply[#reply + 1] = redis.call('HGET', KEYS[3], post_id)
end
return reply
"""

process_views = ProcessViews()


def send_to_redis(batch, reading):
    """Count the batch in Redis, and read its posts' views, the pages renewed since the last read and the versions of
    `reading`'s pages (PagesToRead), in one round trip."""
    groups = list(batch.groups.items())
    post_ids = sorted(batch.per_post)
    keys, args = [PENDING, FLUSHING, IN_DATABASE], [READERS_KEPT, READER_MINUTE_KEPT, settings.READER_VIEWS_PER_MINUTE]
    args.append(len(groups))
    for view, views in groups:
        keys += [readers_key(view.post_id, view.day), view.minute_key or readers_key(view.post_id, view.day)]
        args += [view.post_id, view.day.isoformat(), views, view.reader_hash]
    args += post_ids
    pipe = client().pipeline(transaction=False)
    if groups:
        registered_script(client(), SEND_BATCH)(keys=keys, args=args, client=pipe)
    versions.read_renewed_pages(pipe, since=reading.since)
    if reading.slugs:
        pipe.mget([versions.page_version_key(slug) for slug in reading.slugs])
    replies = pipe.execute()
    counted = replies.pop(0) if groups else []
    renewed = versions.renewed_pages(replies.pop(0))
    found = replies.pop(0) if reading.slugs else []
    minutes = {view.minute_key: after for (view, _), after in zip(groups, counted, strict=False) if view.minute_key}
    totals = {}
    for n, post_id in enumerate(post_ids):
        unflushed, in_database = counted[len(groups) + 2 * n], counted[len(groups) + 2 * n + 1]
        totals[post_id] = BufferedViews(int(unflushed), None if in_database is None else int(in_database))
    return BatchReply(
        minutes=minutes,
        totals=totals,
        renewed=renewed,
        page_versions={
            slug: None if page is None else page.decode() for slug, page in zip(reading.slugs, found, strict=True)
        },
    )


class Sender:
    """This process's sender: a daemon thread started with the first view counted, and the sends at exit."""

    def __init__(self):
        self.wake = threading.Event()
        self.send_lock = threading.Lock()
        self.start_lock = threading.Lock()
        self.pid = None

    def ensure_running(self):
        if self.pid == os.getpid():
            return
        with self.start_lock:
            if self.pid != os.getpid():
                threading.Thread(target=self.keep_sending, name="view-batch-sender", daemon=True).start()
                atexit.register(send_pending_views)  # after the request threads are done
                self.pid = os.getpid()

    def keep_sending(self):
        began = time.monotonic()
        while True:
            # An interval after the last send began, not after it ended: the views a kill can lose are one interval's.
            self.wake.wait(max(0.0, began + settings.VIEW_BATCH_INTERVAL - time.monotonic()))
            self.wake.clear()
            began = time.monotonic()
            try:
                self.send()
            except Exception:  # the thread must outlive anything one send meets
                logger.exception("Sending this process's views failed")
            finally:
                close_old_connections()  # this thread's, used only when Redis was away

    def send(self):
        with self.send_lock:
            as_of, renewals = time.monotonic(), versions.renewals_here
            batch = process_views.take()
            if not batch and not process_views.pages:
                return
            reading = process_views.to_read()
            try:
                reply = send_to_redis(batch, reading)
            except redis.RedisError as error:
                count_in_database(batch, error)
                return
            self.remember_site_version(reply)
            if not process_views.answered(reply, reading, as_of=as_of, renewals=renewals):
                self.read_every_page()

    def read_every_page(self):
        """The log of renewed pages cannot say which pages changed since the last read (it lost renewals, or the
        site's version was renewed): read the version of every page known."""
        as_of, renewals = time.monotonic(), versions.renewals_here
        reading = process_views.to_read(every_page=True)
        reply = send_to_redis(Views(), reading)
        self.remember_site_version(reply)
        process_views.answered(reply, reading, as_of=as_of, renewals=renewals)

    @staticmethod
    def remember_site_version(reply):
        if reply.renewed.site_version is not None:
            versions.remember_site_version(f"{reply.renewed.site_version}:")


def count_in_database(batch, error):
    """Redis unreachable: the batch is counted in the database (readers unknown, no per-reader limit), once; if the
    database fails too, it waits in memory for the next send."""
    if not batch:
        process_views.counted_in_database(batch)
        return
    logger.warning("Redis unavailable (%s): counting a batch of %s views in the database", error, batch.size)
    try:
        add_views_to_database(batch.by_post_day(), flush_id=f"batch:{uuid.uuid4().hex}")
    except DatabaseError:
        logger.exception("The database refused a batch of views too: kept for the next send")
        process_views.give_back(batch)
        return
    process_views.counted_in_database(batch)


sender = Sender()
os.register_at_fork(after_in_child=process_views.__init__)  # a fresh lock too: another thread may hold it


def count_view(*, post_id, day, reader):
    """Count a view in this process's batch, unless its reader (readers.Reader, or None) is past the limit."""
    view = CountedView(post_id, day) if reader is None else CountedView(post_id, day, reader.hash, reader.minute_key)
    counted, size = process_views.count(view, limit=settings.READER_VIEWS_PER_MINUTE)
    sender.ensure_running()
    if size >= settings.VIEW_BATCH_SIZE:
        sender.wake.set()
    return counted


def send_pending_views():
    """Send this process's views now (tests, a graceful exit); Redis's answer refreshes what the process knows."""
    sender.send()
