from html import escape

from django import template
from django.utils.safestring import mark_safe

from .report_pictures import bars

register = template.Library()

HTML_ROW = (
    '<tr><td><a href="{url}">{title}</a></td><td>{views_in_period:d}</td><td>{change:+d}</td><td>{total_views:d}</td>'
    "<td>{bars}</td></tr>"
)
TEXT_ROW = (
    "\n{title}\n  {url}\n  Views this {period}: {views_in_period:d} · Change from the {period} before: {change:+d} · "
    "Total views: {total_views:d}\n  Last {bar_count:d} {period}s: {sparkline} {numbers}\n"
)


@register.simple_tag
def report_rows_html(rows):
    """A report's post rows (publisher.reports.emails.with_picture) as the HTML table's rows. Built here rather than in
    a template loop, as the bars are: a report has a row per post, and a loop's per-variable nodes are paid in every
    email. Title and URL are escaped with the standard library's html.escape; numbers are formatted as integers."""
    return mark_safe(  # title and URL escaped here, the bars by their own tag
        "\n".join(
            HTML_ROW.format(
                url=escape(row["url"]),
                title=escape(row["title"]),
                views_in_period=row["views_in_period"],
                change=row["change"],
                total_views=row["total_views"],
                bars=bars(row["picture"]),
            )
            for row in rows
        )
    )


@register.simple_tag
def report_rows_text(rows, period):
    """The same rows for the plain-text part (not escaped: the .txt templates turn autoescaping off)."""
    return "".join(
        TEXT_ROW.format(
            title=row["title"],
            url=row["url"],
            period=period,
            views_in_period=row["views_in_period"],
            change=row["change"],
            total_views=row["total_views"],
            bar_count=len(row["series"]),
            sparkline=row["picture"]["sparkline"],
            numbers=row["picture"]["numbers"],
        )
        for row in rows
    )
