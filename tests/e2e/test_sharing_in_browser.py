"""In a real browser, under the site's Content-Security-Policy: a post page's JSON-LD is data, not script, so it
needs no nonce and the policy reports nothing; the browser reads it back as the BlogPosting it is, hostile title
and all; and a search from the header's box lands on the results, highlighted (screenshot:
var/e2e/search-results.png)."""

import contextlib
import json

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.test_browser import CHROMIUM_ARGS, OUTPUT, find_chromium
from tests.factories import PostFactory
from tests.support.requirements import skip_unless_required

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOSTILE_TITLE = """A "lighthouse" & <b>x</b></script><script>document.title='pwned'</script>"""


@pytest.fixture
def chromium(live_server, settings):
    settings.SITE_URL = live_server.url
    executable = find_chromium()
    if executable is None:
        skip_unless_required("BROWSER", "no Chromium on this machine: `apt-get install chromium`")
    return executable


@contextlib.contextmanager
def browser_page(executable):
    """A page, and what the Content-Security-Policy refused on it as the browser reports it. Opened once the test's
    data is saved: Playwright's loop then runs in this thread, where Django refuses database calls."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page, refused = browser.new_page(), []
            page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message))
            yield page, refused
        finally:
            browser.close()


def test_the_json_ld_is_read_as_data_under_the_csp_without_a_nonce(live_server, chromium):
    post = PostFactory(title=HOSTILE_TITLE, slug="hostile-card", content="The lighthouse keeper's notes.")
    with browser_page(chromium) as (page, refused):
        response = page.goto(f"{live_server.url}/{post.slug}/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.title() == f"{HOSTILE_TITLE} · Quick Publisher"  # shown as text, and no script changed it
        scripts = page.eval_on_selector_all("script", "scripts => scripts.map(s => [s.type, s.textContent])")
        assert refused == []
    assert [kind for kind, _ in scripts] == ["application/ld+json"]
    posting = json.loads(scripts[0][1])
    assert posting["@type"] == "BlogPosting" and posting["headline"] == HOSTILE_TITLE
    assert posting["url"] == f"{live_server.url}/hostile-card/"


def test_a_search_from_the_header_shows_highlighted_results(live_server, chromium):
    PostFactory(title="The lighthouse", content="A keeper's year at the lighthouse, and the storms.")
    PostFactory(title="Storm notes", description="What the keeper saw from the lighthouse.")
    with browser_page(chromium) as (page, refused):
        page.goto(f"{live_server.url}/")
        page.get_by_role("searchbox", name="Search posts").first.fill("lighthouse")
        page.get_by_role("search").get_by_role("button", name="Search").click()
        page.wait_for_url("**/search/?q=lighthouse")
        assert page.locator(".search-results h2 mark").all_inner_texts() == ["lighthouse"]
        assert refused == []
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=OUTPUT / "search-results.png", full_page=True)
