"""Markdown in, HTML that is safe to show to readers out."""

import html
import re

import markdown
import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
}
# No javascript:, data: or other schemes that can carry script.
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(source):
    raw_html = markdown.markdown(source or "", extensions=["fenced_code", "tables", "sane_lists"])
    return nh3.clean(
        raw_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )


_BLOCK_END = re.compile(r"</(p|li|h[1-6]|blockquote|pre|tr|td|th)>|<br\s*/?>", re.IGNORECASE)


def excerpt_from_html(safe_html, length=280):
    spaced = _BLOCK_END.sub(" ", safe_html)  # "<li>a</li><li>b</li>" reads "a b", not "ab"
    text = " ".join(html.unescape(nh3.clean(spaced, tags=set())).split())
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"
