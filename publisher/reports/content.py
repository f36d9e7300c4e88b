"""What a report says: for each of an author's published posts, its views in the period, the change from the
period before, its total, and a picture of the last 14 days or 8 weeks."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.contrib.auth import get_user_model
from django.db import connection

from quick_publisher.emails import absolute_url
from quick_publisher.time_zones import local_date

from ..counting import shown_views_of_posts
from ..models import DailyPostViews, Post

User = get_user_model()


@dataclass(frozen=True)
class ReportRow:
    """One post's line, or the totals' line (no url)."""

    title: str
    url: str
    total_views: int
    series: list[tuple[date, int]]  # (first day of each bar, views), oldest first; the last bar is the period

    @property
    def views_in_period(self):
        return self.series[-1][1]

    @property
    def change(self):
        return self.series[-1][1] - self.series[-2][1]


@dataclass(frozen=True)
class Report:
    author: object  # the user, with email, full_name and time_zone
    period: object  # a reports.periods.Period
    rows: list[ReportRow]  # most viewed in the period first

    @property
    def totals(self):
        bars = [start for start, _ in self.rows[0].series]
        return ReportRow(
            title="All posts",
            url="",
            total_views=sum(row.total_views for row in self.rows),
            series=[(start, sum(row.series[n][1] for row in self.rows)) for n, start in enumerate(bars)],
        )


def build_reports(*, author_ids, period):
    """Each author's report for the period, from three queries whatever the number of authors and posts: the
    authors, their published posts, and the daily views of those posts over the whole picture. Authors with no
    post published by the period's end get none."""
    authors = list(User.objects.filter(pk__in=author_ids).only("pk", "email", "full_name", "time_zone").order_by("pk"))
    zones = {author.pk: author.time_zone for author in authors}
    posts = list(
        Post.objects.filter(author_id__in=author_ids, status=Post.Status.PUBLISHED)
        .order_by("author_id", "pk")
        .values_list("pk", "author_id", "title", "slug", "view_count", "published_at")
    )
    # Totals as the post pages show them: the database plus views not flushed yet.
    total_views = shown_views_of_posts({post[0]: post[4] for post in posts})
    views = views_by_bar([post[0] for post in posts], period)
    bar_starts = period.bar_starts()
    post_url = post_url_maker()
    rows_by_author = defaultdict(list)
    for post_id, author_id, title, slug, _, published_at in posts:
        if published_at and local_date(published_at, zones[author_id]) > period.end:
            continue  # published after the period: not in its report
        rows_by_author[author_id].append(
            ReportRow(
                title=title,
                url=post_url(slug),
                total_views=total_views[post_id],
                series=[(start, views[post_id, start]) for start in bar_starts],
            )
        )
    return [
        Report(author=author, period=period, rows=sorted(rows_by_author[author.pk], key=most_viewed_first))
        for author in authors
        if rows_by_author[author.pk]
    ]


def post_url_maker():
    """A function giving a post's absolute URL from its slug, for a whole chunk of reports from one reversal: each slug
    takes the place of a placeholder in that URL (a slug's characters are never quoted in a URL)."""
    placeholder = "post-slug"
    before, after = absolute_url("post_detail", args=[placeholder]).rsplit(placeholder, 1)
    return lambda slug: f"{before}{slug}{after}"


def most_viewed_first(row):
    return (-row.views_in_period, -row.total_views, row.title)


def views_by_bar(post_ids, period):
    """{(post id, first day of its bar): views} of these posts over the report's picture. By the posts' ids, which
    the (post, date) unique index answers directly, whatever the number of posts and days in the table: joined to the
    posts by author instead, the query was planned as a scan of every day in the picture. One query, or one per
    batch of ids where the database limits a statement's parameters (SQLite)."""
    views = defaultdict(int)
    bar_of = {day: period.bar_of(day) for day in period.days_in_picture()}
    in_picture = DailyPostViews.objects.filter(date__gte=period.bar_starts()[0], date__lte=period.end)
    limit = connection.features.max_query_params  # None where a statement's parameters are not limited
    batch = limit - 2 if limit else len(post_ids) or 1  # room for the picture's first and last days
    for first in range(0, len(post_ids), batch):
        daily = in_picture.filter(post_id__in=post_ids[first : first + batch]).values_list("post_id", "date", "views")
        for post_id, day, count in daily:
            views[post_id, bar_of[day]] += count
    return views
