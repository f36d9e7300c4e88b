from functools import lru_cache
from html import escape

from django import template
from django.utils.safestring import mark_safe

register = template.Library()

BARS = (
    '<table class="bars" role="img" aria-label="{label}" cellpadding="0" cellspacing="1" '
    'style="border-collapse:separate;font-size:0;line-height:0"><tr height="48" valign="bottom">\n{cells}</tr></table>'
)
# Each cell as little markup as mail clients need: its size as HTML attributes and its bar's height inline. The
# table's zero font size and line height, which its cells inherit, keep the &nbsp; from holding a bar open.
BAR = '<td width="8" title="{label}"><div style="height:{height:d}px;background:{colour}">&nbsp;</div></td>'
VIEWED, UNVIEWED = "#0969da", "#d1d9e0"
CELLS_A_LINE = 7  # of at most about 110 characters each


@register.simple_tag
def bars(picture):
    """A report's picture (publisher.reports.emails.picture) as bars: table cells sized inline, which every mail client
    shows, each with its day and number as text (in the cell's title; the table's aria-label reads them all, its cells
    being presentational inside role="img"). Built here rather than in a template loop: a report has a
    picture per post, and a loop's per-bar nodes and lazy-aware escaping are paid in every email. The labels are
    escaped with the standard library's html.escape; numbers are formatted as integers."""
    # Seven cells a line: a body whose lines all fit RFC 5322's 998 characters is sent as 8bit, not quoted-printable
    # (Django's choice), which costs far less to encode; fewer lines cost less to check and write.
    cells = [bar_cell(label, height, bool(views)) for label, height, views in picture["bars"]]
    lines = "\n".join("".join(cells[first : first + CELLS_A_LINE]) for first in range(0, len(cells), CELLS_A_LINE))
    return mark_safe(BARS.format(label=escape(picture["label"]), cells=lines))  # every label escaped above


@lru_cache(maxsize=4096)
def bar_cell(label, height, viewed):
    """One bar's cell. A period's reports repeat the same few (its days by the same small numbers of views), so each
    is built once."""
    return BAR.format(label=escape(label), height=height, colour=VIEWED if viewed else UNVIEWED)
