"""End to end in a real browser, as an author writes (issue 25): the live preview beside the Markdown editor, the list
of their posts on a laptop's screen, and the public forms whose controls all stand alike.

The platform's web process and local mail server only (no worker is needed here), started as test_browser.py starts
it. Screenshots are kept in var/e2e/writing/ on every run, next to the platform's log.
"""

import re

import pytest
from playwright.sync_api import expect

from publisher.admin.markdown_preview import MAX_CHARACTERS
from tests.e2e.test_browser import OUTPUT, browser, make_superuser, person_context, running_platform, screenshot
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

__all__ = ["browser"]  # a fixture of test_browser.py's, used here

WRITING_OUTPUT = OUTPUT / "writing"
LAPTOP = {"width": 1280, "height": 800}
AUTHOR_EMAIL = "grace@example.com"
# Long titles, dates in every date column: the widest list an author has.
AUTHOR_AND_POSTS = f"""
from datetime import timedelta

from django.utils import timezone

from publisher.models import Post
from tests.factories import AuthorFactory, DraftFactory, PostFactory

author = AuthorFactory(email={AUTHOR_EMAIL!r}, full_name="Grace Hopper")
PostFactory(author=author, title="On the first bug ever found in a computer, a moth taped into the logbook")
PostFactory(author=author, title="Compilers: why a machine should write its own programs from plain English words")
DraftFactory(
    author=author,
    title="Scheduled: a talk on nanoseconds, with a length of wire for each",
    status=Post.Status.SCHEDULED,
    publish_at=timezone.now() + timedelta(days=3),
)
"""
TYPED = "# Engines\n\nThey **compute** with cards.\n\n<script>document.title = 'script ran'</script>\n"


@pytest.fixture(scope="module")
def platform():
    with running_platform(WRITING_OUTPUT, processes=("web", "mail")) as running:
        running.start()
        running.manage("shell", "-c", AUTHOR_AND_POSTS)
        yield running


def shot(page, name):
    screenshot(page, name, output=WRITING_OUTPUT)


def watch_policy_and_errors(page):
    """What the browser refused under the Content-Security-Policy, and the page's script errors, as they come."""
    problems = []
    page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return problems


def log_in(page, email, password):
    page.goto("/admin/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def assert_every_column_is_in_sight(page):
    """Each column's header lies inside the window and inside the list's visible part (not scrolled away behind the
    filters), with the admin's navigation sidebar open."""
    expect(page.locator("#nav-sidebar")).to_be_visible()
    assert page.locator("#nav-sidebar").bounding_box()["width"] > 200
    expect(page.locator("#changelist-filter")).to_be_visible()
    results = page.locator("#changelist .results").bounding_box()
    headers = page.locator("#result_list thead th")
    assert headers.count() >= 7  # the selection checkbox and six columns at least
    for header in headers.all():
        box, name = header.bounding_box(), header.inner_text().strip() or header.get_attribute("class")
        assert box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"], f"{name!r} is outside the window: {box}"
        assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], f"{name!r} is below the fold: {box}"
        right_edge = results["x"] + results["width"]
        assert box["x"] + box["width"] <= right_edge + 0.5, f"{name!r} is scrolled out of sight: {box}, {results}"


def test_an_author_sees_every_column_of_their_posts_on_a_laptop(browser, platform):
    context = person_context(browser, platform)
    page = context.new_page()
    problems = watch_policy_and_errors(page)
    log_in(page, AUTHOR_EMAIL, PASSWORD)
    page.goto("/admin/publisher/post/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    columns = [text.strip() for text in page.locator("#result_list thead th").all_text_contents()]
    assert columns[1:] == ["Title", "Status", "Views", "Stats", "Date", "Updated"]
    assert_every_column_is_in_sight(page)
    shot(page, "admin-post-list-author-1280")
    assert not problems, problems
    context.close()


def test_a_superuser_sees_every_column_and_whose_post_it_is_on_a_laptop(browser, platform):
    superuser = make_superuser(platform)
    context = person_context(browser, platform)
    page = context.new_page()
    log_in(page, superuser["email"], superuser["password"])
    page.goto("/admin/publisher/post/")
    columns = [text.strip() for text in page.locator("#result_list thead th").all_text_contents()]
    assert columns[1:3] == ["Title", "Author"]
    assert_every_column_is_in_sight(page)
    shot(page, "admin-post-list-superuser-1280")
    context.close()


def test_the_preview_follows_the_author_as_they_type(browser, platform):
    context = person_context(browser, platform)
    page = context.new_page()
    problems = watch_policy_and_errors(page)
    previews = []
    page.on("request", lambda r: "/markdown-preview/" in r.url and r.method == "POST" and previews.append(r.url))
    log_in(page, AUTHOR_EMAIL, PASSWORD)
    page.goto("/admin/publisher/post/add/")
    editor, preview = page.get_by_label("Content"), page.get_by_role("region", name="Preview")
    expect(preview).to_be_empty()

    # Side by side on a wide screen: the preview's top beside the editor's, to its right.
    editor_box, preview_box = editor.bounding_box(), preview.bounding_box()
    assert preview_box["x"] >= editor_box["x"] + editor_box["width"]
    assert abs(preview_box["y"] - editor_box["y"]) < 2 and preview_box["height"] > 200

    # Typing: the preview asks the server once the author pauses, not at each key.
    page.get_by_label("Title").fill("Engines, previewed")
    asked_before = len(previews)
    editor.press_sequentially(TYPED, delay=30)
    expect(preview.get_by_role("heading", name="Engines")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("compute")
    page.wait_for_timeout(600)  # any request still due would have left by now
    typed_requests = len(previews) - asked_before
    assert 1 <= typed_requests <= len(TYPED) // 10, f"{typed_requests} previews for {len(TYPED)} keys"
    # Sanitized as the public page is: the script is gone, and never ran.
    assert preview.locator("script").count() == 0
    assert "script ran" not in page.title()
    shot(page, "admin-write-with-preview")
    preview_html = preview.inner_html()

    # Too long a text: the preview says so, and the editor keeps every character.
    kept = editor.input_value()
    editor.fill("a" * (MAX_CHARACTERS + 1))
    expect(preview).to_contain_text("too long to preview")
    expect(preview).to_have_class(re.compile("markdown-preview-error"))
    editor.fill(kept)
    expect(preview.locator("strong")).to_have_text("compute")

    # The public page shows what the preview showed.
    page.get_by_label("Status").select_option(label="Published")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    page.goto("/engines-previewed/")
    assert page.locator(".post-body").inner_html().strip() == preview_html.strip()
    assert not problems, problems
    context.close()


FORM_PAGES = {
    "login": "/login/",
    "signup": "/signup/",
    "password-reset": "/password-reset/",
    "verify-resend": "/verify/resend/",
}
SIGNED_IN_FORM_PAGES = {"account": "/account/", "report-settings": "/reports/settings/"}
CONTROLS = ".field input:not([type=hidden]):not([type=checkbox]):not([type=radio]), .field select"


def control_heights(page, path, name):
    page.goto(path)
    controls = page.locator(CONTROLS)
    assert controls.count() > 0, f"no form controls on {path}"
    shot(page, f"form-{name}")
    return {
        f"{path} {control.evaluate('c => c.tagName.toLowerCase() + `[name=${c.name}]`')}": control.bounding_box()[
            "height"
        ]
        for control in controls.all()
    }


def test_every_control_of_the_public_forms_stands_as_tall_as_the_others(browser, platform):
    context = person_context(browser, platform)
    page = context.new_page()
    problems = watch_policy_and_errors(page)
    heights = {}
    for name, path in FORM_PAGES.items():
        heights |= control_heights(page, path, name)
    page.goto("/login/")
    page.get_by_label("Email address").fill(AUTHOR_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Account")).to_be_visible()
    for name, path in SIGNED_IN_FORM_PAGES.items():
        heights |= control_heights(page, path, name)
    selects = {control for control in heights if " select[" in control}
    assert len(selects) >= 2, heights  # the report settings' frequency and hour
    assert len(set(heights.values())) == 1, f"controls of different heights: {heights}"
    # The buttons beside them, too.
    page.goto("/reports/settings/")
    assert page.get_by_role("button", name="Save").bounding_box()["height"] == next(iter(heights.values()))
    assert not problems, problems
    context.close()
