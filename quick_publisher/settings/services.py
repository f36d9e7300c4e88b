"""The services behind the site: Redis (broker, caches, view counts), email, accounts' and reports' timings, and
Celery."""

from datetime import timedelta

from redis.backoff import NoBackoff
from redis.retry import Retry

from quick_publisher import broker_urls

from .environment import VAR_DIR, env
from .web import TIME_ZONE

# --- Redis: broker, cache (rate limits) and the view-count buffer --------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# A page must answer even when Redis does not: short timeouts and no client-side retry loop.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
REDIS_CLIENT_OPTIONS = {
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "retry": Retry(NoBackoff(), 0),
}

# Post pages (publisher/page_cache/): each web process keeps the pages it serves in memory (POST_PAGE_CACHE_ENTRIES,
# most recently used), in front of the "shared_post_pages" cache; both expire them after POST_PAGE_CACHE_TIMEOUT.
POST_PAGE_CACHE_TIMEOUT = env.int("POST_PAGE_CACHE_TIMEOUT", default=3600)
POST_PAGE_CACHE_ENTRIES = env.int("POST_PAGE_CACHE_ENTRIES", default=20_000)

CACHES = {
    "default": {
        # Django's RedisCache, except that an unreachable Redis reads as an empty cache instead of raising.
        "BACKEND": "quick_publisher.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": REDIS_CLIENT_OPTIONS,
    },
    # The pages any web process rendered, in Redis: its errors raise, and the page is served the Redis-down way.
    "shared_post_pages": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": REDIS_CLIENT_OPTIONS,
        "KEY_PREFIX": "post-pages",
        "TIMEOUT": POST_PAGE_CACHE_TIMEOUT,
    },
    # Templates' {% cache %} fragments, per process: the layout's links, a post's heading (keyed by what it shows).
    "template_fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "template-fragments",
        "OPTIONS": {"MAX_ENTRIES": POST_PAGE_CACHE_ENTRIES},
    },
}
RATELIMIT_FAIL_OPEN = True  # a Redis outage must not become a site outage
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="REMOTE_ADDR")  # or a proxy's, e.g. HTTP_X_REAL_IP
RATELIMIT_VIEW = "main.views.rate_limited"
# django-ratelimit's defaults, stated: the readers' count masks addresses alike (quick_publisher.ratelimits), and a
# setting that is present is read without the cost of a miss on every view.
RATELIMIT_IPV4_MASK = 32
RATELIMIT_IPV6_MASK = 64

# Sessions read from the cache (Redis) and written through to the database: a signed-in reader's page costs no
# session query, and a session outlives a Redis restart.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Email -----------------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Quick Publisher <noreply@quickpublisher.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Base of the exponential backoff (seconds) for emails that the SMTP server refused.
EMAIL_RETRY_BACKOFF = env.int("EMAIL_RETRY_BACKOFF", default=10)
EMAIL_MAX_RETRIES = env.int("EMAIL_MAX_RETRIES", default=8)

# The local inbox (DEBUG only) reads the Maildir that the development SMTP server writes.
DEV_MAILDIR = env.path("DEV_MAILDIR", default=VAR_DIR / "mail")

# --- Accounts and reports --------------------------------------------------------------------------
# How long a signed-in user's row may stay in the cache (main/user_cache.py) when Redis missed its deletion.
USER_CACHE_TIMEOUT = env.int("USER_CACHE_TIMEOUT", default=60)
VERIFICATION_LINK_MAX_AGE = timedelta(seconds=env.int("VERIFICATION_LINK_MAX_AGE", default=3 * 24 * 3600))
VERIFICATION_SWEEP_MIN_AGE = timedelta(seconds=env.int("VERIFICATION_SWEEP_MIN_AGE", default=60))
RESEND_RATE_LIMIT = env.str("RESEND_RATE_LIMIT", default="3/h")
SIGNUP_RATE_LIMIT = env.str("SIGNUP_RATE_LIMIT", default="20/h")
LOGIN_RATE_LIMIT = env.str("LOGIN_RATE_LIMIT", default="20/m")
SEARCH_RATE_LIMIT = env.str("SEARCH_RATE_LIMIT", default="30/m")
UNSUBSCRIBE_LINK_MAX_AGE = timedelta(days=env.int("UNSUBSCRIBE_LINK_MAX_AGE_DAYS", default=365))
REPORT_CHUNK_SIZE = env.int("REPORT_CHUNK_SIZE", default=200)
REPORT_SMTP_CONNECTIONS = env.int("REPORT_SMTP_CONNECTIONS", default=16)  # per worker host: docs/configuration.md
# Due authors the report tick takes per transaction (their sends are queued REPORT_CHUNK_SIZE to a task).
REPORT_TICK_CHUNK_SIZE = env.int("REPORT_TICK_CHUNK_SIZE", default=1000)
# Seconds a claim on a report delivery holds unless renewed (docs/delivery-guarantees.md): a send (a few SMTP
# replies, each waited for up to EMAIL_TIMEOUT) must take less than half of it.
REPORT_CLAIM_LEASE = env.int("REPORT_CLAIM_LEASE", default=120)
POSTS_PER_PAGE = 10
# Post-days a flush applies per transaction (a minute's views in one short one); views one reader may count a minute.
VIEW_FLUSH_CHUNK_SIZE = env.int("VIEW_FLUSH_CHUNK_SIZE", default=100_000)
READER_VIEWS_PER_MINUTE = env.int("READER_VIEWS_PER_MINUTE", default=20)
# A web process's view batches: at most this many seconds apart, and at once past this many views.
VIEW_BATCH_INTERVAL, VIEW_BATCH_SIZE = env.float("VIEW_BATCH_INTERVAL", 0.25), env.int("VIEW_BATCH_SIZE", 500)

# --- Celery ----------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# RabbitMQ (amqp://) or Redis (redis://): docs/delivery-guarantees.md says what each gives.
BROKER_IS_AMQP = broker_urls.is_amqp(CELERY_BROKER_URL)
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5)
# RabbitMQ: seconds between heartbeats; a worker cut off is seen dead after about two missed ones.
CELERY_BROKER_HEARTBEAT = env.int("CELERY_BROKER_HEARTBEAT", default=120)
# kombu's reconnection policy, the same for both brokers.
BROKER_RETRY_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
if BROKER_IS_AMQP:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # py-amqp's socket timeouts (SO_RCVTIMEO / SO_SNDTIMEO): a RabbitMQ that hangs fails the call instead.
        "read_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "write_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        # Publisher confirms: a task is queued once RabbitMQ says it has it, not once it left our socket.
        "confirm_publish": True,
        **BROKER_RETRY_OPTIONS,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        # How long a task taken by a worker that died stays invisible before another worker gets it (Redis only).
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        **BROKER_RETRY_OPTIONS,
    }
# Publishing from a request gives up fast: the sweeper catches what could not be queued.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# django-celery-results' database backend, riding out a database that is away for a moment (see the module).
CELERY_RESULT_BACKEND = "quick_publisher.task_results:DatabaseBackend"
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 6
CELERY_RESULT_BACKEND_BASE_SLEEP_BETWEEN_RETRIES_MS = 100
CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS = 2000
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TIMEZONE = TIME_ZONE
# Tasks are idempotent, so a task is acknowledged only once done and given back if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_WORKER_SEND_TASK_EVENTS = True
# A worker cut off from the broker finishes its tasks: cancelled, a report could leave without its sent mark.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Tasks outside the apps' tasks.py modules (those are found by autodiscover_tasks()).
CELERY_IMPORTS = ["quick_publisher.tasks"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Unset on purpose: with it, beat rewrites its own "celery.backend_cleanup" row at every start. Results are deleted
# by quick_publisher.tasks.delete_expired_task_results on a schedule stored in the database.
CELERY_RESULT_EXPIRES = None
TASK_RESULT_MAX_AGE = timedelta(days=env.int("TASK_RESULT_MAX_AGE_DAYS", default=30))
