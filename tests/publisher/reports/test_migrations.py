"""The migrations to reports at the author's hour keep what was there: opted-out authors are off, the others daily
and scheduled; existing deliveries are daily ones of their date; the old daily row is covered in test_reports. The
report fields' move to publisher.ReportPreferences copies each user's choice and keeps their time zone."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("main", "0001_initial"), ("publisher", "0003_flushed_post_views")]
AFTER = [("main", "0002_report_choice"), ("publisher", "0004_report_periods")]


@pytest.mark.django_db(transaction=True)
def test_receives_reports_becomes_the_frequency_and_deliveries_become_daily_periods():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldUser, OldDelivery = old.get_model("main", "User"), old.get_model("publisher", "ReportDelivery")
    opted_out = OldUser.objects.create(email="out@example.com", full_name="Out", receives_reports=False)
    receiving = OldUser.objects.create(email="in@example.com", full_name="In", receives_reports=True)
    OldDelivery.objects.create(author_id=receiving.pk, report_date=date(2026, 11, 29), status="sent")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    User, Delivery = new.get_model("main", "User"), new.get_model("publisher", "ReportDelivery")
    assert dict(User.objects.values_list("email", "report_frequency")) == {
        "out@example.com": "off",
        "in@example.com": "daily",
    }
    assert User.objects.get(pk=opted_out.pk).next_report_at is None
    assert User.objects.get(pk=receiving.pk).next_report_at is not None
    assert list(Delivery.objects.values_list("author_id", "kind", "period_start", "status")) == [
        (receiving.pk, "daily", date(2026, 11, 29), "sent")
    ]
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_users_with_nothing_published_are_due_no_report_after_the_migration():
    before = [("main", "0002_report_choice"), ("publisher", "0010_foreign_key_indexes_covered_by_composite")]
    after = [("main", "0002_report_choice"), ("publisher", "0011_no_report_due_without_a_published_post")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldUser, OldPost = old.get_model("main", "User"), old.get_model("publisher", "Post")
    due = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    writer = OldUser.objects.create(email="writer@example.com", full_name="W", next_report_at=due)
    drafter = OldUser.objects.create(email="drafter@example.com", full_name="D", next_report_at=due)
    reader = OldUser.objects.create(email="reader@example.com", full_name="R", next_report_at=due)
    OldPost.objects.create(author_id=writer.pk, title="Out", slug="out", content="x", status="published")
    OldPost.objects.create(author_id=drafter.pk, title="Draft", slug="draft", content="x", status="draft")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    User = executor.loader.project_state(after).apps.get_model("main", "User")
    assert dict(User.objects.values_list("pk", "next_report_at")) == {writer.pk: due, drafter.pk: None, reader.pk: None}
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_report_fields_move_to_publishers_report_preferences_and_the_time_zone_stays_the_users():
    before = [("main", "0003_time_zone"), ("publisher", "0011_no_report_due_without_a_published_post")]
    after = [("main", "0004_report_fields_moved_out"), ("publisher", "0012_report_preferences")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    OldUser = executor.loader.project_state(before).apps.get_model("main", "User")
    due = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    weekly = OldUser.objects.create(
        email="weekly@example.com",
        full_name="W",
        report_frequency="weekly",
        report_hour=9,
        next_report_at=due,
        time_zone="Asia/Kolkata",
    )
    off = OldUser.objects.create(
        email="off@example.com",
        full_name="O",
        report_frequency="off",
        report_hour=22,
        next_report_at=None,
        time_zone="America/New_York",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    User, ReportPreferences = new.get_model("main", "User"), new.get_model("publisher", "ReportPreferences")
    assert set(ReportPreferences.objects.values_list("author_id", "frequency", "hour", "next_report_at")) == {
        (weekly.pk, "weekly", 9, due),
        (off.pk, "off", 22, None),
    }
    assert dict(User.objects.values_list("email", "time_zone")) == {
        "weekly@example.com": "Asia/Kolkata",
        "off@example.com": "America/New_York",
    }
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
