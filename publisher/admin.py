import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from quick_publisher import report_times

from . import reports, services, stats, tasks
from .forms import StatsForm
from .models import DailyPostViews, Post, ReportDelivery, ReportRun


class PostAdminForm(forms.ModelForm):
    current_user = None  # set by PostAdmin.get_form

    class Meta:
        model = Post
        fields = [
            "author",
            "title",
            "slug",
            "content",
            "status",
            "publish_at",
        ]  # PostAdmin.get_fields shows the rest read-only

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.author_id is None and "author" not in self.fields:
            # Set before validation, so that Post.clean can check that the author may publish.
            self.instance.author = self.current_user

    def clean(self):
        cleaned = super().clean()
        scheduled = cleaned.get("status") == Post.Status.SCHEDULED
        publish_at = cleaned.get("publish_at")
        if scheduled and publish_at is not None and publish_at <= timezone.now():
            self.add_error("publish_at", "Choose a time in the future, or publish the post now.")
        return cleaned

    def clean_slug(self):
        slug = self.cleaned_data.get("slug")
        if not slug:
            return slug
        return services.unique_slug(slug, exclude_pk=self.instance.pk)


EARLIEST_ZONE = "Etc/GMT-14"  # UTC+14: where a day starts first


def users_today(user):
    """Today in the user's own zone: an author's days are theirs (the days their views are counted on). A superuser
    sees every author's days: the last one shown is the latest "today" of any zone, so no author's today is left
    out."""
    zone = EARLIEST_ZONE if user.is_superuser else user.report_time_zone
    return timezone.localdate(timezone=report_times.zone(zone))


class PostChangeList(ChangeList):
    """The admin's list of posts, with the views their pages show read for the whole page of rows at once."""

    def get_results(self, request):
        super().get_results(request)
        views = services.current_view_counts({post.pk: post.view_count for post in self.result_list})
        for post in self.result_list:
            post.views_shown = views[post.pk]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    form = PostAdminForm
    list_display = ("title", "author", "status", "published_at", "publish_at", "views", "stats_link")
    list_filter = ("status", "published_at")
    search_fields = ("title",)
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("views", "published_at", "created_at", "updated_at", "preview_link")
    actions = ["publish", "unpublish", "unschedule"]

    # --- Each author sees and touches only their own posts ---

    def get_queryset(self, request):
        posts = super().get_queryset(request).select_related("author")
        if request.user.is_superuser:
            return posts
        return posts.filter(author=request.user)

    def get_object(self, request, object_id, from_field=None):
        post = super().get_object(request, object_id, from_field)
        if post is None:  # someone else's post, or none at all: the same answer
            raise Http404("No such post.")
        return post

    def get_fields(self, request, obj=None):
        fields = [
            "title",
            "slug",
            "content",
            "status",
            "publish_at",
            "preview_link",
            "views",
            "published_at",
            "created_at",
            "updated_at",
        ]
        if request.user.is_superuser:
            fields.insert(0, "author")
        return fields

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return (*self.list_filter, "author")
        return self.list_filter

    def changeform_view(self, request, *args, **kwargs):
        # Dates and times, a scheduled post's included, are shown and entered in the author's own zone.
        with timezone.override(report_times.zone(request.user.report_time_zone)):
            response = super().changeform_view(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
            return response

    def get_changelist(self, request, **kwargs):
        return PostChangeList

    @admin.display(description="Views")
    def views(self, post):
        """As the post's page shows them: in the database plus not flushed yet."""
        if post.pk is None:
            return 0
        shown = getattr(post, "views_shown", None)  # set for a whole page of the list by PostChangeList
        return services.current_view_count(post) if shown is None else shown

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.current_user = request.user
        return form

    def get_changeform_initial_data(self, request):
        return {"author": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if obj.author_id is None:
            obj.author = request.user
        services.save_post(obj)

    def delete_model(self, request, obj):
        services.delete_posts(posts=Post.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.delete_posts(posts=queryset)

    # --- Publishing ---

    @admin.action(description="Publish selected posts", permissions=["change"])
    def publish(self, request, queryset):
        try:
            published, unverified = services.publish_posts(posts=queryset, user=request.user)
        except services.NotAllowedToPublish as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Published {published} post(s).", messages.SUCCESS)
        if unverified:
            self.message_user(
                request,
                f"{unverified} draft(s) stay drafts: their authors have not verified their email address yet.",
                messages.WARNING,
            )

    @admin.action(description="Unpublish selected posts", permissions=["change"])
    def unpublish(self, request, queryset):
        count = services.unpublish_posts(posts=queryset)
        self.message_user(request, f"Unpublished {count} post(s).", messages.SUCCESS)

    @admin.action(description="Unschedule selected posts (back to drafts)", permissions=["change"])
    def unschedule(self, request, queryset):
        count = services.unschedule_posts(posts=queryset)
        self.message_user(request, f"{count} post(s) are drafts again.", messages.SUCCESS)

    # --- Preview: drafts are never public, but their author can see how they will look ---

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        stats_page = self.admin_site.admin_view(self.stats_view)
        stats_csv = self.admin_site.admin_view(self.stats_csv_view)
        return [
            path("stats/", stats_page, name="publisher_post_stats"),
            path("stats.csv", stats_csv, name="publisher_post_stats_csv"),
            path("<path:object_id>/preview/", preview, name="publisher_post_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id):
        post = self.get_object(request, object_id)
        if not self.has_view_or_change_permission(request, post):
            raise Http404("No such post.")
        views = services.current_view_count(post)
        return render(request, "publisher/post_detail.html", {"post": post, "views": views, "preview": True})

    # --- Stats: each author their own posts' days; a superuser everyone's, or one author's ---

    def stats_form(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return StatsForm(
            request.GET,
            posts=self.get_queryset(request),
            may_choose_author=request.user.is_superuser,
        )

    def stats_view(self, request):
        form = self.stats_form(request)
        context = {**self.admin_site.each_context(request), "title": "Stats", "opts": self.model._meta, "form": form}
        if not form.is_valid():
            return TemplateResponse(request, "admin/publisher/post/stats.html", context, status=400)
        posts = form.chosen_posts()
        start, end, previous_start = stats.date_range(days=form.cleaned_data["days"], today=users_today(request.user))
        days = stats.daily_totals(posts, start=start, end=end)
        context.update(
            days=days,
            chart=stats.chart(days),
            table=stats.post_totals(posts, start=start, end=end, previous_start=previous_start),
            start=start,
            end=end,
            csv_query=request.GET.urlencode(),
        )
        return TemplateResponse(request, "admin/publisher/post/stats.html", context)

    def stats_csv_view(self, request):
        form = self.stats_form(request)
        if not form.is_valid():
            return HttpResponseBadRequest("Choose a range of 30 or 90 days, and one of your posts or all of them.")
        start, end, _ = stats.date_range(days=form.cleaned_data["days"], today=users_today(request.user))
        rows = stats.daily_rows(form.chosen_posts(), start=start, end=end)
        return StreamingHttpResponse(
            csv_lines([("date", "post", "views", "readers"), *rows]),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="post-stats-{start}-to-{end}.csv"'},
        )

    @admin.display(description="Stats")
    def stats_link(self, post):
        return format_html('<a href="{}?post={}">Stats</a>', reverse("admin:publisher_post_stats"), post.pk)

    @admin.display(description="Preview")
    def preview_link(self, post):
        if not post.pk:
            return "Save the post to preview it."
        return format_html(
            '<a href="{}">Preview this post</a>', reverse("admin:publisher_post_preview", args=[post.pk])
        )


class Echo:
    """A file whose write returns the line, so that csv.writer can produce lines for a streamed response."""

    def write(self, value):
        return value


def csv_lines(rows):
    writer = csv.writer(Echo())
    for row in rows:
        # A spreadsheet runs a cell that starts with one of these as a formula: a title is text, never a formula.
        yield writer.writerow(["'" + str(cell) if str(cell).startswith(("=", "+", "-", "@")) else cell for cell in row])


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(admin.ModelAdmin):
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

    @admin.action(description="Retry the selected failed reports")
    def retry_failed_deliveries(self, request, queryset):
        queued = tasks.retry_failed_deliveries(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {queued} failed report(s) again.", messages.SUCCESS)


class SuperusersOnly:
    """Report runs show every author's deliveries: for superusers only."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


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
        return JsonResponse(reports.run_progress(get_object_or_404(ReportRun, pk=run_id)))

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


@admin.register(DailyPostViews)
class DailyPostViewsAdmin(admin.ModelAdmin):
    list_display = ("post", "date", "views")
    list_filter = ("date",)
    list_select_related = ("post",)
    readonly_fields = ("post", "date", "views")


# The users' admin is main's; publishing adds what concerns authors' reports to it. main comes before publisher
# in INSTALLED_APPS, so main's admin is registered by the time this module runs.
User = get_user_model()
AccountsUserAdmin = type(admin.site.get_model_admin(User))


class UserAdmin(AccountsUserAdmin):
    actions = [*AccountsUserAdmin.actions, "send_todays_report_now"]

    @admin.action(description="Send today's report now")
    def send_todays_report_now(self, request, queryset):
        queued = tasks.queue_todays_report_now(author_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued today's report for {queued} eligible author(s).", messages.SUCCESS)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
