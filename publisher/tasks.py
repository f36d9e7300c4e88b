from celery import shared_task

from . import counting, page_cache, posts
from .images import tasks as image_tasks  # noqa: F401  registers the image tasks with the worker
from .reports import tasks as report_tasks  # noqa: F401  registers the report tasks with the worker


@shared_task
def publish_scheduled_posts():
    return {"published": posts.publish_due_posts()}


@shared_task
def flush_view_counts():
    return {"views_flushed": counting.flush_views()}


@shared_task
def replay_lost_page_invalidations():
    return {"lost_invalidations_replayed": page_cache.replay_lost_invalidations()}
