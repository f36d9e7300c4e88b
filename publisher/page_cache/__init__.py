"""The post page cache: pages kept in this process and in Redis (store), each under its current version in Redis
(versions), and read again when their post or its author changes (invalidation)."""

from .invalidation import invalidate_pages_of_author, invalidate_pages_on_commit, replay_lost_invalidations
from .store import CachedPage, cache_page, cached_page, is_anonymous_reader, placeholders, split_page
from .versions import current_page_version

__all__ = [
    "CachedPage",
    "cache_page",
    "cached_page",
    "current_page_version",
    "invalidate_pages_of_author",
    "invalidate_pages_on_commit",
    "is_anonymous_reader",
    "placeholders",
    "replay_lost_invalidations",
    "split_page",
]
