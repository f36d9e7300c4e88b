"""How an author's posts did, day by day: the numbers behind the admin's Stats page, its chart and its CSV.

Days are the days the views were counted on (the author's days). "Readers" on a day is that day's estimate of
distinct readers; over a range, the days' readers are added up (a reader who came back on another day counts again).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Sum
from django.db.models.functions import Coalesce

from .models import DailyPostViews

CHART_WIDTH, CHART_HEIGHT = 720, 200


@dataclass(frozen=True)
class Day:
    date: object
    views: int
    readers: int


def date_range(*, days, today):
    """The last `days` days, today included, and the same number of days before them (for the change)."""
    start = today - timedelta(days=days - 1)
    return start, today, start - timedelta(days=days)


def daily_totals(posts, *, start, end):
    """One Day per date from start to end, the posts' views and readers added up (zeros where nothing happened)."""
    rows = (
        DailyPostViews.objects.filter(post__in=posts, date__range=(start, end))
        .values("date")
        .annotate(views=Sum("views"), readers=Coalesce(Sum("readers"), 0))
    )
    by_date = {row["date"]: row for row in rows}
    days = []
    for n in range((end - start).days + 1):
        date = start + timedelta(days=n)
        row = by_date.get(date, {"views": 0, "readers": 0})
        days.append(Day(date, row["views"], row["readers"]))
    return days


def post_totals(posts, *, start, end, previous_start):
    """Per post, most viewed first: views and readers from start to end, and the change in views from the same
    number of days before."""

    def totals(first, last):
        rows = (
            DailyPostViews.objects.filter(post__in=posts, date__range=(first, last))
            .values("post_id")
            .annotate(views=Sum("views"), readers=Coalesce(Sum("readers"), 0))
        )
        return {row["post_id"]: row for row in rows}

    current, previous = totals(start, end), totals(previous_start, start - timedelta(days=1))
    table = []
    for post in posts.select_related(None).only("pk", "title"):
        now = current.get(post.pk, {"views": 0, "readers": 0})
        before = previous.get(post.pk, {"views": 0})
        table.append(
            {"post": post, "views": now["views"], "readers": now["readers"], "change": now["views"] - before["views"]}
        )
    table.sort(key=lambda row: (-row["views"], row["post"].title))
    return table


def daily_rows(posts, *, start, end):
    """(date, post title, views, readers) for every day a post had views in the range, by date then title; read a
    chunk at a time, for a streamed CSV."""
    return (
        DailyPostViews.objects.filter(post__in=posts, date__range=(start, end))
        .order_by("date", "post__title", "post_id")
        .values_list("date", "post__title", "views", "readers")
        .iterator(chunk_size=2000)
    )


def chart(days):
    """What an SVG chart of views (bars) and readers (a line) over the days needs: coordinates in a fixed box."""
    top = max([day.views for day in days] + [day.readers for day in days] + [1])
    step = CHART_WIDTH / len(days)

    def y(value):
        return round(CHART_HEIGHT - value / top * CHART_HEIGHT, 1)

    bars = [
        {
            "x": round(n * step + step * 0.1, 1),
            "y": y(day.views),
            "width": round(step * 0.8, 1),
            "height": round(CHART_HEIGHT - y(day.views), 1),
            "day": day,
        }
        for n, day in enumerate(days)
    ]
    line = " ".join(f"{round(n * step + step / 2, 1)},{y(day.readers)}" for n, day in enumerate(days))
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "top": top, "bars": bars, "readers_line": line}
