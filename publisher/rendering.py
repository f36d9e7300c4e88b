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
    return sanitized(raw_html)


def with_absolute_urls(safe_html, base_url):
    """`safe_html` (render_markdown's) with its relative links and image sources resolved against `base_url`: for
    HTML read away from the site, such as a feed's, where a reader has no page to resolve them against."""
    return sanitized(safe_html, url_relative=("rewrite_with_base", base_url))


def sanitized(html_fragment, **options):
    return nh3.clean(
        html_fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        **options,
    )


_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|blockquote|pre|tr|td|th)>", re.IGNORECASE)
SENTENCE_ENDS = tuple(".!?:;…")


def excerpt_from_html(safe_html, length=280):
    """The post's opening text, plain: separate blocks (paragraphs, list items, headings) stay apart, a block that
    does not end a sentence ending with a full stop ("<li>a</li><li>b</li>" reads "a. b.", not "ab" or "a b")."""
    blocks = (" ".join(html.unescape(nh3.clean(part, tags=set())).split()) for part in _BLOCK_END.split(safe_html))
    text = " ".join(block if block.endswith(SENTENCE_ENDS) else f"{block}." for block in blocks if block)
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"
