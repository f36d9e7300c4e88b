"""The reports' admin screens: deliveries, runs with their progress, and authors' preferences (superusers only)."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from quick_publisher.admin_site import OwnRowsOnly, SuperusersOnly

from ..models import ReportDelivery, ReportPreferences, ReportRun
from . import tasks
from .preferences import save_preferences
from .progress import run_progress


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(OwnRowsOnly, admin.ModelAdmin):
    """Who sees which deliveries, whatever permissions a group holds: a superuser sees every author's, and may
    retry or delete them; anyone else only their own, read-only, and only with the model's view permission (no
    group has it). Their own are shown without how sending went (an error names mail servers) or its task."""

    list_display = ("author", "kind", "period_start", "status", "sent_at", "run", "task_id")
    list_filter = ("status", "kind", "period_start")
    date_hierarchy = "period_start"
    search_fields = ("author__email", "task_id")
    list_select_related = ("author", "run")
    readonly_fields = (
        "author",
        "kind",
        "period_start",
        "run",
        "task_id",
        "claim_token",
        "claimed_at",
        "sent_at",
        "error",
        "created_at",
    )
    actions = ["retry_failed_deliveries"]
    own_fields = ("kind", "period_start", "status", "sent_at", "created_at")  # what an author sees of theirs

    def has_add_permission(self, request):
        return False  # made by the report runs and the send commands

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def get_list_display(self, request):
        return self.list_display if request.user.is_superuser else self.own_fields[:-1]

    def get_fields(self, request, obj=None):
        return super().get_fields(request, obj) if request.user.is_superuser else self.own_fields

    def get_search_fields(self, request):
        return self.search_fields if request.user.is_superuser else ()

    @admin.action(description="Retry the selected failed reports", permissions=["change"])
    def retry_failed_deliveries(self, request, queryset):
        queued = tasks.retry_failed_deliveries(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {queued} failed report(s) again.", messages.SUCCESS)


@admin.register(ReportRun)
class ReportRunAdmin(SuperusersOnly, admin.ModelAdmin):
    """One row per tick that found authors due; a run in progress moves its bar without a reload
    (publisher/static/publisher/report_run_progress.js polls the run's JSON every 2 s: no inline script)."""

    list_display = ("ticked_at", "periods_shown", "authors_due", "queued", "sent", "failed", "skipped", "progress")
    date_hierarchy = "ticked_at"
    fields = ("ticked_at", "periods_shown", "authors_due", "queued", "progress", "failed_deliveries")
    readonly_fields = fields
    actions = ["retry_failed_deliveries"]

    class Media:
        js = ("publisher/report_run_progress.js",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        status = ReportDelivery.Status
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent=Count("deliveries", filter=Q(deliveries__status=status.SENT)),
                failed=Count("deliveries", filter=Q(deliveries__status=status.FAILED)),
                skipped=Count("deliveries", filter=Q(deliveries__status=status.SKIPPED)),
                total=Count("deliveries"),
            )
        )

    def get_urls(self):
        progress = self.admin_site.admin_view(self.progress_view)
        return [path("<int:run_id>/progress.json", progress, name="publisher_reportrun_progress"), *super().get_urls()]

    def progress_view(self, request, run_id):
        if not self.has_view_permission(request):
            raise Http404("No such run.")
        return JsonResponse(run_progress(get_object_or_404(ReportRun, pk=run_id)))

    @admin.display(description="Periods")
    def periods_shown(self, run):
        return ", ".join(run.periods)

    @admin.display(description="Sent", ordering="sent")
    def sent(self, run):
        return run.sent

    @admin.display(description="Failed", ordering="failed")
    def failed(self, run):
        return run.failed

    @admin.display(description="Skipped", ordering="skipped")
    def skipped(self, run):
        return run.skipped

    @admin.display(description="Progress")
    def progress(self, run):
        done = run.sent + run.failed + run.skipped
        return format_html(
            '<span class="report-run-progress" data-url="{}"><progress max="{}" value="{}"></progress> '
            '<span class="report-run-progress-text">{} of {} done</span></span>',
            reverse("admin:publisher_reportrun_progress", args=[run.pk]),
            run.total,
            done,
            done,
            run.total,
        )

    @admin.display(description="Failed deliveries")
    def failed_deliveries(self, run):
        failed = run.deliveries.filter(status=ReportDelivery.Status.FAILED).select_related("author")
        if not failed:
            return "None."
        items = format_html_join(
            "", "<li>{} ({} {}): {}</li>", ((d.author, d.kind, d.period_start, d.error) for d in failed)
        )
        retry_url = (
            reverse("admin:publisher_reportdelivery_changelist") + f"?run__id__exact={run.pk}&status__exact=failed"
        )
        return format_html(
            '<ul class="failed-deliveries">{}</ul><a href="{}">Select them to retry</a>', items, retry_url
        )

    @admin.action(description="Retry the failed reports of the selected runs")
    def retry_failed_deliveries(self, request, queryset):
        failed = ReportDelivery.objects.filter(run__in=queryset, status=ReportDelivery.Status.FAILED)
        queued = tasks.retry_failed_deliveries(delivery_ids=list(failed.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {queued} failed report(s) again.", messages.SUCCESS)


@admin.register(ReportPreferences)
class ReportPreferencesAdmin(SuperusersOnly, admin.ModelAdmin):
    list_display = ("author", "frequency", "hour", "time_zone", "next_report_at")
    list_filter = ("frequency",)
    search_fields = ("author__email", "author__full_name")
    list_select_related = ("author",)
    fields = ("author", "frequency", "hour", "time_zone", "next_report_at")
    readonly_fields = ("author", "time_zone", "next_report_at")
    actions = ["send_latest_report_now"]

    def has_add_permission(self, request):
        return False  # each user has theirs from sign-up

    def save_model(self, request, obj, form, change):
        save_preferences(obj, changed_fields=form.changed_data)

    @admin.display(description="Time zone", ordering="author__time_zone")
    def time_zone(self, preferences):
        return preferences.author.time_zone

    @admin.action(description="Send the latest report now")
    def send_latest_report_now(self, request, queryset):
        """Each chosen eligible author's latest complete period (their yesterday, or last week), unless they have
        had it: never the period still running."""
        queued = tasks.queue_latest_reports(author_ids=list(queryset.values_list("pk", flat=True)))["queued"]
        self.message_user(request, f"Queued the latest report of {queued} eligible author(s).", messages.SUCCESS)
