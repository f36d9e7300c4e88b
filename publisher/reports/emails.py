"""The report email: a table of the author's posts with a picture of each, in paired text and HTML templates."""

from functools import lru_cache

from django.utils.dateformat import format as date_format

from quick_publisher.emails import absolute_url, render_email

from .periods import WEEKLY
from .tokens import make_unsubscribe_token

SPARKS = "▁▂▃▄▅▆▇█"
BAR_HEIGHT_PX = 48


def picture(series, *, day_names):
    """A series [(first day, views)] as bars for the HTML part (table cells sized inline: no image, no script, so
    every mail client shows it) and as a Unicode sparkline for the text part, each bar with its day (as `day_names`,
    from bar_days, names it) and number. Bars are (label, height in pixels, views)."""
    counts = [views for _, views in series]
    labels = [f"{day_names[start]}: {views} view{'' if views == 1 else 's'}" for start, views in series]
    highest = max(counts, default=0)
    if highest:
        heights = [max(round(views / highest * BAR_HEIGHT_PX), 1) for views in counts]
        top = len(SPARKS) - 1
        sparkline = "".join([SPARKS[round(views / highest * top)] for views in counts])
    else:
        heights, sparkline = [1] * len(counts), SPARKS[0] * len(counts)
    return {
        "bars": list(zip(labels, heights, counts, strict=True)),
        "label": "; ".join(labels),
        "sparkline": sparkline,
        "numbers": " ".join(map(str, counts)),
    }


@lru_cache(maxsize=64)
def period_dates(period):
    """The period's days as the email writes them (Django's date format): every report of a period says the same, so
    each is formatted once."""
    return {
        "start": date_format(period.start, "l, j F Y"),
        "start_weekday": date_format(period.start, "l, j F"),
        "start_day": date_format(period.start, "j F"),
        "end": date_format(period.end, "l, j F"),
    }


@lru_cache(maxsize=64)
def bar_days(period):
    """{first day of each bar: its name in the bars' labels}: every report of a period has the same bars, so each is
    named once."""
    weekly = period.kind == WEEKLY
    return {start: f"{'Week of ' if weekly else ''}{start:%a %-d %b}" for start in period.bar_starts()}


def view_count_report_email(report):
    author, period = report.author, report.period
    unsubscribe_url = absolute_url("report_unsubscribe", args=[make_unsubscribe_token(author)])
    weekly, day_names = period.kind == WEEKLY, bar_days(period)
    headers = {
        # RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to this URL.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # Stable per author, kind and period: a copy that slips through twice can be folded by the receiver.
        "Message-ID": f"<view-report-{author.pk}-{period.kind}-{period.start.isoformat()}@quick-publisher>",
    }
    return render_email(
        template="view_count_report",
        to=author.email,
        context={
            "author": author,
            "dates": period_dates(period),
            "rows": [with_picture(row, day_names=day_names) for row in report.rows],
            "totals": with_picture(report.totals, day_names=day_names),
            "weekly": weekly,
            "time_zone": author.time_zone,
            "settings_url": absolute_url("report_settings"),
            "unsubscribe_url": unsubscribe_url,
        },
        headers=headers,
    )


def with_picture(row, *, day_names):
    """A report row as the templates read it: its fields, and its picture."""
    return {
        "title": row.title,
        "url": row.url,
        "total_views": row.total_views,
        "series": row.series,
        "views_in_period": row.views_in_period,
        "change": row.change,
        "picture": picture(row.series, day_names=day_names),
    }
