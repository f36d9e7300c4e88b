from django.urls import reverse

from main.emails import absolute_url, render_email

from .tokens import make_unsubscribe_token


def view_count_report_email(report, *, connection=None):
    author = report["author"]
    unsubscribe_url = absolute_url(reverse("report_unsubscribe", args=[make_unsubscribe_token(author)]))
    headers = {
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
