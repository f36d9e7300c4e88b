from quick_publisher.emails import absolute_url, render_email

from .tokens import make_unsubscribe_token

SPARKS = "▁▂▃▄▅▆▇█"
BAR_HEIGHT_PX = 48


def picture(series, *, weekly):
    """A series [(first day, views)] as bars for the HTML part (table cells sized inline: no image, no script, so
    every mail client shows it) and as a Unicode sparkline for the text part, each bar with its day and number."""
    highest = max((views for _, views in series), default=0)
    bars = []
    for start, views in series:
        label = f"{'Week of ' if weekly else ''}{start:%a %-d %b}: {views} view{'' if views == 1 else 's'}"
        height = round(views / highest * BAR_HEIGHT_PX) if highest else 0
        bars.append({"start": start, "views": views, "label": label, "height": max(height, 1)})
    sparkline = "".join(SPARKS[round(views / highest * (len(SPARKS) - 1)) if highest else 0] for _, views in series)
    return {
        "bars": bars,
        "label": "; ".join(bar["label"] for bar in bars),
        "sparkline": sparkline,
        "numbers": " ".join(str(views) for _, views in series),
    }


def view_count_report_email(report, *, connection=None):
    author = report["author"]
    unsubscribe_url = absolute_url("report_unsubscribe", args=[make_unsubscribe_token(author)])
    weekly = report["kind"] == "weekly"
    headers = {
        # RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to this URL.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # Stable per author, kind and period: a copy that slips through twice can be folded by the receiver.
        "Message-ID": (
            f"<view-report-{author.pk}-{report['kind']}-{report['period_start'].isoformat()}@quick-publisher>"
        ),
    }
    rows = [{**row, "picture": picture(row["series"], weekly=weekly)} for row in report["rows"]]
    totals = {**report["totals"], "picture": picture(report["totals"]["series"], weekly=weekly)}
    return render_email(
        template="view_count_report",
        to=author.email,
        context={
            **report,
            "rows": rows,
            "totals": totals,
            "weekly": weekly,
            "time_zone": author.report_time_zone,
            "account_url": absolute_url("account"),
            "unsubscribe_url": unsubscribe_url,
        },
        headers=headers,
        connection=connection,
    )
