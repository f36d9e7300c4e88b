import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django_celery_results.backends.database import DatabaseBackend

from main.models import User
from quick_publisher.celery import app as celery_app
from tests.factories import UserFactory
from tests.support.waiting import request_wait_budget, timed

ROOT = settings.BASE_DIR


@pytest.mark.broker
@pytest.mark.django_db
def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_names_the_broker_when_redis_is_down(client, broker_at_dead_port):
    with timed() as timing:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"broker"}
    assert timing.waited < request_wait_budget(), f"/healthz with the broker down: {timing}"


@pytest.mark.django_db(transaction=True)
def test_signup_with_redis_down_does_not_wait_on_the_broker(client, broker_at_dead_port):
    with timed() as timing:
        response = client.post(
            "/signup/",
            {
                "email": "fast@example.com",
                "full_name": "Fast",
                "password1": "x-Very-long-pw-1",
                "password2": "x-Very-long-pw-1",
            },
        )
    assert response.status_code == 302
    assert timing.waited < request_wait_budget(), f"sign-up with the broker down: {timing}"
    user = User.objects.get(email="fast@example.com")
    assert user.verification_sent_at is None  # the sweeper will send it once Redis is back


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_hangs(client, hanging_broker):
    with timed() as timing:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"broker"}
    assert timing.waited < request_wait_budget(timeouts=3), f"/healthz with the broker hanging: {timing}"


@pytest.mark.django_db(transaction=True)
def test_signup_with_the_broker_hanging_waits_only_the_short_publish_timeouts(client, hanging_broker):
    """The broker accepts the connection and never answers (Redis or RabbitMQ stalled, a network partition)."""
    with timed() as timing:
        response = client.post(
            "/signup/",
            {
                "email": "hung@example.com",
                "full_name": "Hung",
                "password1": "x-Very-long-pw-1",
                "password2": "x-Very-long-pw-1",
            },
        )
    assert response.status_code == 302
    assert timing.waited < request_wait_budget(), f"sign-up with the broker hanging: {timing}"
    assert User.objects.get(email="hung@example.com").verification_sent_at is None  # for the sweeper


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2():
    user = UserFactory()
    assert user.password.startswith("argon2")
    assert get_hasher().algorithm == "argon2"


def _manage(args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT"}}
    full_env.update(ENV_FILE="/dev/null", **env)  # not the developer's .env
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY="k" * 20 + "a-real-looking-production-secret-0123456789",
        ALLOWED_HOSTS="blog.example.com",
        SITE_URL="https://blog.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _manage(["check"], DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_no_periodic_schedule_lives_in_settings():
    assert not getattr(settings, "CELERY_BEAT_SCHEDULE", None)
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    assert isinstance(celery_app.backend, DatabaseBackend)  # django-celery-results' (quick_publisher/task_results.py)
    assert celery_app.conf.result_extended is True
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.accept_content == ["json"]
