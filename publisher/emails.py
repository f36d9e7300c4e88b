from quick_publisher.emails import absolute_url, render_email

from .tokens import make_unsubscribe_token


def view_count_report_email(report, *, connection=None):
    author = report["author"]
    unsubscribe_url = absolute_url("report_unsubscribe", args=[make_unsubscribe_token(author)])
    headers = {
        # RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to this URL.
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # Stable per author and date: a copy that slips through twice can be folded by the receiver.
        "Message-ID": f"<view-report-{author.pk}-{report['date'].isoformat()}@quick-publisher>",
    }
    return render_email(
        template="view_count_report",
        to=author.email,
        context={**report, "unsubscribe_url": unsubscribe_url},
        headers=headers,
        connection=connection,
    )
