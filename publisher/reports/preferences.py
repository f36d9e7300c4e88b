"""An author's choice of reports and the schedule it sets: who receives reports, and when each one's next is due.

next_report_at is set only while an author has a published post, so that the tick finds the due on its index
without reading posts. Every transaction that publishes, unpublishes or deletes posts keeps it (keep_schedules).
"""

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..models import Post, ReportPreferences
from .schedule import first_slot_from_today, next_slot

OFF = ReportPreferences.Frequency.OFF
CHOICE_FIELDS = frozenset({"frequency", "hour"})


def receivers():
    """Preferences of the users who receive reports when they have a published post: active, verified, on."""
    return ReportPreferences.objects.filter(author__is_active=True, author__is_verified=True).exclude(frequency=OFF)


def has_published_post():
    return Exists(Post.objects.filter(author=OuterRef("pk"), status=Post.Status.PUBLISHED))


def create_preferences(author_id):
    """Each user has their preferences from sign-up on: daily at 07:00, nothing due until they publish."""
    ReportPreferences.objects.get_or_create(author_id=author_id)


def preferences_of(user):
    return ReportPreferences.objects.select_related("author").get_or_create(author=user)[0]


def reschedule(preferences, *, now=None):
    """Set next_report_at from the current choice and the author's zone (the caller saves it)."""
    preferences.next_report_at = first_slot_from_today(
        now=now or timezone.now(),
        time_zone=preferences.author.time_zone,
        hour=preferences.hour,
        frequency=preferences.frequency,
    )


def save_preferences(preferences, *, changed_fields):
    """Save a changed choice. It moves the next report of an author who has one coming, and schedules one when the
    frequency changes (reports turned on). Authors with nothing published have none coming until publishing
    schedules it; one who turns reports on anyway has that report skipped, and no more."""
    changed = CHOICE_FIELDS & set(changed_fields)
    if not changed:
        return preferences
    if preferences.next_report_at is not None or "frequency" in changed:
        reschedule(preferences)
    preferences.save(update_fields=[*sorted(changed), "next_report_at"])
    return preferences


def follow_account_change(user, *, changed_fields):
    """After main saved a user's fields: a new time zone moves the hour of the next report; a deactivated user is
    due none (and leaves the tick's index), a reactivated one is scheduled again."""
    if "is_active" in changed_fields:
        if user.is_active:
            keep_schedules([user.pk])
        else:
            ReportPreferences.objects.filter(pk=user.pk).update(next_report_at=None)
    if "time_zone" in changed_fields:
        preferences = preferences_of(user)
        if preferences.next_report_at is not None:
            reschedule(preferences)
            preferences.save(update_fields=["next_report_at"])


def turn_off_reports(*, user_id):
    return ReportPreferences.objects.filter(pk=user_id).update(frequency=OFF, next_report_at=None)


def keep_schedules(author_ids, *, now=None):
    """An author is due reports while they have a published post: the first published post schedules the next
    report, the last one gone clears it. The preferences' rows are locked first; each statement after the lock sees
    what a transaction that held it committed, so two of these for one author (a post published while another is
    deleted) agree."""
    now = now or timezone.now()
    with transaction.atomic():
        ReportPreferences.objects.bulk_create(
            [ReportPreferences(author_id=pk) for pk in author_ids], ignore_conflicts=True
        )
        locked = list(
            ReportPreferences.objects.select_for_update()
            .filter(pk__in=author_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        published = has_published_post()
        ReportPreferences.objects.filter(pk__in=locked, next_report_at__isnull=False).exclude(published).update(
            next_report_at=None
        )
        starting = list(
            receivers()
            .filter(published, pk__in=locked, next_report_at__isnull=True)
            .select_related("author")
            .only("hour", "frequency", "author__time_zone")
        )
        for preferences in starting:
            preferences.next_report_at = next_slot(
                after=now,
                time_zone=preferences.author.time_zone,
                hour=preferences.hour,
                frequency=preferences.frequency,
            )
        ReportPreferences.objects.bulk_update(starting, ["next_report_at"])
