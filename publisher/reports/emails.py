"""The report email: a table of the author's posts with a picture of each, in paired text and HTML templates."""

from functools import lru_cache

from django.utils.dateformat import format as date_format

from quick_publisher.emails import absolute_url, render_email

from .periods import WEEKLY
from .tokens import make_unsubscribe_token

SPARKS = "▁▂▃▄▅▆▇█"
BAR_HEIGHT_PX = 48


def picture(series, *, weekly):
    """A series [(first day, views)] as bars for the HTML part (table cells sized inline: no image, no script, so
    every mail client shows it) and as a Unicode sparkline for the text part, each bar with its day and number."""
    highest = max((views for _, views in series), default=0)
    bars = [
        {
            "start": start,
            "views": views,
            "label": f"{bar_day(start, weekly)}: {views} view{'' if views == 1 else 's'}",
            "height": max(round(views / highest * BAR_HEIGHT_PX), 1) if highest else 1,
        }
        for start, views in series
    ]
    top = len(SPARKS) - 1
    return {
        "bars": bars,
        "label": "; ".join(bar["label"] for bar in bars),
        "sparkline": "".join(SPARKS[round(views / highest * top) if highest else 0] for _, views in series),
        "numbers": " ".join(str(views) for _, views in series),
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


@lru_cache(maxsize=256)
def bar_day(start, weekly):
    """A bar's day as its label shows it: every report of a period has the same bars, so each is formatted once."""
    return f"{'Week of ' if weekly else ''}{start:%a %-d %b}"


def view_count_report_email(report, *, connection=None):
    author, period = report.author, report.period
    unsubscribe_url = absolute_url("report_unsubscribe", args=[make_unsubscribe_token(author)])
    weekly = period.kind == WEEKLY
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
            "rows": [with_picture(row, weekly=weekly) for row in report.rows],
            "totals": with_picture(report.totals, weekly=weekly),
            "weekly": weekly,
            "time_zone": author.time_zone,
            "settings_url": absolute_url("report_settings"),
            "unsubscribe_url": unsubscribe_url,
        },
        headers=headers,
        connection=connection,
    )


def with_picture(row, *, weekly):
    """A report row as the templates read it: its fields, and its picture."""
    return {
        "title": row.title,
        "url": row.url,
        "total_views": row.total_views,
        "series": row.series,
        "views_in_period": row.views_in_period,
        "change": row.change,
        "picture": picture(row.series, weekly=weekly),
    }
