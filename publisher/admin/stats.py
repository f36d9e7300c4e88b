"""The Stats screens of the posts' admin: each author their own posts' days, a superuser everyone's or one
author's, as a page with a chart and as CSV."""

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from quick_publisher.time_zones import today_in

from .. import stats
from ..forms import StatsForm

EARLIEST_ZONE = "Etc/GMT-14"  # UTC+14: where a day starts first


def last_day_shown(user):
    """Today in the user's own zone: an author's days are theirs (the days their views are counted on). A superuser
    sees every author's days: the last one shown is the latest "today" of any zone, so no author's today is left
    out."""
    return today_in(EARLIEST_ZONE if user.is_superuser else user.time_zone)


class PostStatsScreens:
    """For PostAdmin: the Stats page and its CSV, and a link to each post's stats in the list."""

    def stats_urls(self):
        return [
            path("stats/", self.admin_site.admin_view(self.stats_view), name="publisher_post_stats"),
            path("stats.csv", self.admin_site.admin_view(self.stats_csv_view), name="publisher_post_stats_csv"),
        ]

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
        start, end, previous_start = stats.date_range(
            days=form.cleaned_data["days"], today=last_day_shown(request.user)
        )
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
        start, end, _ = stats.date_range(days=form.cleaned_data["days"], today=last_day_shown(request.user))
        rows = stats.daily_rows(form.chosen_posts(), start=start, end=end)
        return StreamingHttpResponse(
            csv_lines([("date", "post", "views", "readers"), *rows]),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="post-stats-{start}-to-{end}.csv"'},
        )

    @admin.display(description="Stats")
    def stats_link(self, post):
        return format_html('<a href="{}?post={}">Stats</a>', reverse("admin:publisher_post_stats"), post.pk)


class Echo:
    """A file whose write returns the line, so that csv.writer can produce lines for a streamed response."""

    def write(self, value):
        return value


def csv_lines(rows):
    writer = csv.writer(Echo())
    for row in rows:
        # A spreadsheet runs a cell that starts with one of these as a formula: a title is text, never a formula.
        yield writer.writerow(["'" + str(cell) if str(cell).startswith(("=", "+", "-", "@")) else cell for cell in row])
