"""gunicorn's hooks for the site: read by gunicorn from the directory it starts in (or `-c gunicorn.conf.py`).

A worker that exits gracefully (SIGTERM, a HUP reload, max_requests) sends its batch of counted views to Redis
before it goes (publisher.counting: docs/architecture.md, "Views batched in each web process"). Views that requests
still in flight count after this are sent by the atexit hook the batch registers, once those threads are done.
"""


def worker_exit(server, worker):
    from django.conf import settings

    if not settings.configured:  # the worker never loaded the site
        return
    from publisher.counting import send_pending_views

    send_pending_views()
