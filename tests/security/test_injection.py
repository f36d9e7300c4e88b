"""What people type comes out as text: no email header from a name or a title, no markup from a name or a title,
no script from a post's Markdown, whether on the site, in the feed or in an email."""

import html
import re
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from main.models import User
from publisher.rendering import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, ALLOWED_URL_SCHEMES, render_markdown
from publisher.reports.periods import DAILY, Period
from publisher.reports.sending import send_reports_to_authors
from tests.factories import PASSWORD, AuthorFactory, PostFactory, UserFactory
from tests.support.smtp import html_body, text_body
from tests.support.waiting import wait_until

HEADER_INJECTION = "Eve\r\nBcc: evil@example.com\r\nSubject: you won\r\n\r\n<b>injected body</b>"
MARKUP = "<script>alert('name')</script><img src=x onerror=alert(1)>\"'&"
INJECTED_HEADERS = ("Bcc", "Cc", "X-Injected", "Reply-To")


def assert_no_injected_headers(message, recipient):
    for header in INJECTED_HEADERS:
        assert message[header] is None, f"{header}: {message[header]}"
    assert message["To"] == recipient
    assert "you won" not in message["Subject"]
    assert "evil@example.com" not in str(message["Subject"])
    for name, value in message.items():
        assert "\r" not in value and "\n" not in value.replace("\n ", "").replace("\n\t", ""), (name, value)


# --- Email headers -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_name_with_cr_lf_at_sign_up_cannot_add_email_headers(client, celery_worker, smtp_server):
    response = client.post(
        "/signup/",
        {"email": "eve@example.com", "full_name": HEADER_INJECTION, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get(email="eve@example.com")
    assert "\r" not in user.full_name and "\n" not in user.full_name
    [message] = smtp_server.wait_for(1)
    assert_no_injected_headers(message, "eve@example.com")
    assert smtp_server.settle() == [message]  # and nobody else got a copy


@pytest.mark.django_db(transaction=True)
def test_a_name_with_cr_lf_stored_by_other_means_still_cannot_add_headers(celery_worker, smtp_server):
    """The admin or a script may store a name the sign-up form would have cleaned: the email stays whole."""
    user = UserFactory(email="eve@example.com", full_name=HEADER_INJECTION)
    [message] = smtp_server.wait_for(1)
    assert_no_injected_headers(message, "eve@example.com")
    wait_until(lambda: User.objects.get(pk=user.pk).verification_sent_at)
    assert "Eve" in text_body(message)


@pytest.mark.django_db
def test_a_title_and_a_name_with_cr_lf_cannot_add_headers_to_a_report(smtp_server):
    author = AuthorFactory(email="writer@example.com", full_name=HEADER_INJECTION)
    PostFactory(author=author, title="Title\r\nBcc: evil@example.com\r\nX-Injected: yes")
    PostFactory(author=author, title="Bcc: evil@example.com\nReply-To: evil@example.com")
    result = send_reports_to_authors(
        author_ids=[author.pk], period=Period(DAILY, timezone.localdate()), task_id="injection-test"
    )
    assert result.as_result()["sent"] == 1
    [message] = smtp_server.wait_for(1)
    assert_no_injected_headers(message, "writer@example.com")
    assert "Title" in text_body(message)
    assert smtp_server.settle() == [message]


# --- Markup in names and titles ------------------------------------------------------------------------


def escaped(text):
    return html.escape(text, quote=False)


@pytest.mark.django_db
def test_markup_in_names_and_titles_is_escaped_on_every_page(client):
    author = AuthorFactory(full_name=MARKUP)
    post = PostFactory(author=author, title=f"Title {MARKUP}")
    pages = {
        "home": client.get("/"),
        "post": client.get(f"/{post.slug}/"),
    }
    client.force_login(author)
    pages["account"] = client.get("/account/")
    pages["admin changelist"] = client.get("/admin/publisher/post/")
    pages["admin change form"] = client.get(f"/admin/publisher/post/{post.pk}/change/")
    pages["admin preview"] = client.get(f"/admin/publisher/post/{post.pk}/preview/")
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = response.content.decode()
        assert "<script>alert('name')" not in page, name
        assert "<img src=x onerror" not in page, name
        assert "&lt;script&gt;" in page, name
        assert_no_active_markup(page, admin=name.startswith("admin"))


@pytest.mark.django_db
def test_markup_in_titles_and_names_stays_text_in_the_feed(client):
    author = AuthorFactory(full_name=MARKUP)
    PostFactory(author=author, title=f"Title {MARKUP}")
    feed = ElementTree.fromstring(client.get("/feed/").content)
    ns = {"atom": "http://www.w3.org/2005/Atom"}
    entry = feed.find("atom:entry", ns)
    assert entry.find("atom:title", ns).text == f"Title {MARKUP}"  # text, escaped in the XML
    assert entry.find("atom:author/atom:name", ns).text == MARKUP


@pytest.mark.django_db(transaction=True)
def test_markup_in_a_name_is_escaped_in_the_html_part_and_plain_in_the_text_part(celery_worker, smtp_server):
    UserFactory(email="tag@example.com", full_name="Tom & Jerry <b>bold</b>")
    [message] = smtp_server.wait_for(1)
    assert "Hello Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt;," in html_body(message)
    assert "<b>bold</b>" not in html_body(message)
    # Plain text is not HTML: it says what the person typed, without entities.
    assert "Hello Tom & Jerry <b>bold</b>," in text_body(message)


@pytest.mark.django_db
def test_markup_in_titles_and_names_is_escaped_in_the_report(smtp_server):
    author = AuthorFactory(email="writer@example.com", full_name=MARKUP)
    PostFactory(author=author, title=f"Title {MARKUP}")
    send_reports_to_authors(author_ids=[author.pk], period=Period(DAILY, timezone.localdate()), task_id="markup-test")
    [message] = smtp_server.wait_for(1)
    body = html_body(message)
    assert "<script>" not in body and "<img src=x" not in body
    assert escaped("<script>alert('name')</script>") in body.replace("&#x27;", "'").replace("&#39;", "'")
    assert f"Title {MARKUP}" in text_body(message)


@pytest.mark.django_db
def test_password_reset_email_text_part_shows_the_name_as_typed():
    """The reset email goes through Celery in production; its templates are checked here directly."""
    from main.emails import password_reset_email

    message = password_reset_email(AuthorFactory(full_name="Tom & Jerry <b>bold</b>"))
    assert "Hello Tom & Jerry <b>bold</b>," in message.body
    [(html_part, _)] = message.alternatives
    assert "Hello Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt;," in html_part


# --- Markdown cannot run script ------------------------------------------------------------------------

SCRIPT_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example.com/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript&#x3A;alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="https://ok.example.com" onclick="alert(1)">x</a>',
    "<img src=x onerror=alert(1)>",
    '<img src="x" ONERROR="alert(1)">',
    '![x](x" onerror="alert(1))',
    "![x](javascript:alert(1))",
    "<svg onload=alert(1)></svg>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    '<iframe src="https://evil.example.com"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<object data="https://evil.example.com/x.swf"></object>',
    '<embed src="https://evil.example.com/x.swf">',
    '<form action="https://evil.example.com"><button formaction="javascript:alert(1)">go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example.com/">',
    '<link rel="stylesheet" href="https://evil.example.com/x.css">',
    "<details open ontoggle=alert(1)>x</details>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<!--<script>alert(1)//--><script>alert(1)</script>",
    "<template><script>alert(1)</script></template>",
    "```\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
]


class MarkupFinder(HTMLParser):
    """Every element and attribute in an HTML fragment, as a browser's tokenizer would see them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag


def url_scheme(value):
    """The scheme a browser would see (WHATWG URL parsing): tabs and newlines go, outer spaces and controls go."""
    squeezed = re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21)))).lower()
    match = re.match(r"^([a-z][a-z0-9+.-]*):", squeezed)
    return match.group(1) if match else None


def elements_of(markup):
    finder = MarkupFinder()
    finder.feed(markup)
    finder.close()
    return finder.elements


def assert_no_active_markup(page, *, admin=False):
    """A whole page (our layout included): no script, frame, plugin or SVG, no event handler, no script URL.

    admin: the admin's own scripts, loaded from our origin as the CSP allows, and its SVG icons are expected.
    A post page's JSON-LD is data, not script: a <script type="application/ld+json"> with nothing else to it (what a
    title could smuggle out of it would be elements of its own, checked here too).
    """
    forbidden = {"script", "iframe", "frame", "object", "embed", "svg", "math", "base", "applet"}
    for tag, attrs in elements_of(page):
        if tag == "script" and attrs == [("type", "application/ld+json")]:
            continue
        if tag in {"script", "svg"} and admin:
            src = dict(attrs).get("src") or ""
            assert tag == "svg" or (src.startswith("/") and not src.startswith("//")), attrs
            continue
        assert tag not in forbidden, tag
        for name, value in attrs:
            assert not name.startswith("on") and name not in {"srcdoc", "formaction"}, (tag, name, value)
            if name in {"href", "src", "action", "data"} and value:
                assert url_scheme(value) not in {"javascript", "vbscript", "data"}, (tag, name, value)


def assert_inert(fragment):
    """User content: only the allowed tags and attributes, only the allowed URL schemes, nothing that runs."""
    assert_no_active_markup(fragment)
    for tag, attrs in elements_of(fragment):
        assert tag in ALLOWED_TAGS, (tag, fragment)
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, name, fragment)
            if name in {"href", "src"} and value:
                scheme = url_scheme(value)
                assert scheme is None or scheme in ALLOWED_URL_SCHEMES, (name, value, fragment)


@pytest.mark.parametrize("payload", SCRIPT_PAYLOADS)
def test_rendered_markdown_cannot_run_script(payload):
    assert_inert(render_markdown(f"Before\n\n{payload}\n\nAfter"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(SCRIPT_PAYLOADS),
            st.text(max_size=40),
            st.sampled_from(
                [
                    "<",
                    ">",
                    '"',
                    "'",
                    "=",
                    "&#",
                    ";",
                    "javascript:",
                    "on",
                    "error",
                    "\n\n",
                    "](",
                    "[",
                    ")",
                    "<a href=",
                    "<img src=",
                    " ",
                    "\t",
                    "`",
                    "<!--",
                    "-->",
                ]
            ),
        ),
        max_size=25,
    ).map("".join)
)
def test_no_mix_of_markdown_and_markup_yields_script(source):
    assert_inert(render_markdown(source))


@pytest.mark.django_db
def test_a_post_full_of_payloads_is_inert_on_its_page_home_and_feed(client):
    post = PostFactory(title="Payloads", content="\n\n".join(SCRIPT_PAYLOADS))
    page = client.get(f"/{post.slug}/")
    assert page.status_code == 200
    body = re.search(r'<div class="post-body">(.*?)</div>\s*</article>', page.content.decode(), re.S).group(1)
    assert_inert(body)
    assert_no_active_markup(page.content.decode())
    assert_no_active_markup(client.get("/").content.decode())
    feed = ElementTree.fromstring(client.get("/feed/").content)
    summary = feed.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}summary")
    assert_inert(summary.text)


@pytest.mark.django_db
def test_the_post_page_forbids_inline_script_even_if_some_got_through(client):
    post = PostFactory()
    csp = client.get(f"/{post.slug}/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives.get("default-src", "")
