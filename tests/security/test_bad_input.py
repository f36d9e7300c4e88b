"""Hostile input against every public URL and form.

Whatever arrives (very long strings, NUL bytes, invalid UTF-8, look-alike letters, malformed UUIDs, path
traversal, absurd page numbers, the wrong method, no CSRF token), the answer is a 4xx or a proper page, never a
500, and a form that refuses its input leaves no row behind.
"""

import string
import traceback
from urllib.parse import quote

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from main.models import User
from publisher.models import Post, ReportPreferences
from publisher.reports.tokens import make_unsubscribe_token
from quick_publisher import redis_client
from tests.factories import PASSWORD, AuthorFactory, DraftFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db

# Bounded, so that the whole file runs in well under a minute; the fixture's rows are shared by the examples.
bounded = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 64,
    "A" * 10_000,
    "é" * 5_000,
    "😀" * 2_000,
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "/etc/passwd\x00.html",
    "ехаmрle",  # Cyrillic look-alikes of "example"
    "аdmin@exаmple.com",
    "admin@еxample.com",
    "ｆｕｌｌｗｉｄｔｈ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    "\u202egnp.exe",  # right-to-left override
    "\ufeffzero\u200bwidth\u200d",
    "Ⅸ",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR '1'='1' --",
    "'; DROP TABLE main_user; --",
    "{{ 7*7 }}{% debug %}",
    "%s%s%s%n",
    "\r\nBcc: evil@example.com",
    "a\rb\nc\td\x0bf\x0cg\x1bh\x7f",
    "-1",
    "999999999999999999999999999999",
    "1e309",
    "NaN",
    "null",
    "0x7fffffffffffffff",
]
nasty_text = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=255, max_size=2_000),
)
not_a_uuid = st.one_of(
    st.sampled_from(
        [
            "00000000-0000-0000-0000-000000000000",
            "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
            "0" * 32,
            "0" * 36,
            "{12345678-1234-5678-1234-567812345678}",
            "12345678-1234-5678-1234-56781234567",
            "12345678-1234-5678-1234-5678123456789",
            "1234567g-1234-5678-1234-567812345678",
            "12345678_1234_5678_1234_567812345678",
        ]
    ),
    st.uuids().map(str).map(str.upper),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(str),  # well formed but unknown: 404
)
page_numbers = st.one_of(
    st.sampled_from(["999999999999", "-1", "0", "abc", "1.5", "last", "", "１", "٣", "1e3", "\x00", "9" * 400]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    nasty_text,
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]


def raw_segment():
    """A path segment as it arrives on the wire: any bytes (invalid UTF-8 included), or hostile text."""
    return st.one_of(
        st.binary(min_size=1, max_size=200).map(lambda b: quote(b, safe="")),
        nasty_text.filter(bool).map(lambda s: quote(s.encode("utf-8"), safe="")),
        nasty_text.filter(bool).map(lambda s: quote(s.encode("utf-8"), safe="/.:%")),
    )


# --- Fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Hundreds of logins with hostile values: argon2's deliberate slowness is for production, not for these."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def site():
    """One of everything a public URL can point at."""
    author = AuthorFactory(email="author@example.com")
    unverified = UserFactory(email="unverified@example.com")
    post = PostFactory(author=author, slug="a-published-post")
    draft = DraftFactory(author=author, slug="a-draft", title="An unpublished draft")
    return {
        "author": author,
        "unverified": unverified,
        "post": post,
        "draft": draft,
        "slug": post.slug,
        "uuid": str(unverified.verification_uuid),
        "uidb64": urlsafe_base64_encode(force_bytes(author.pk)),
        "reset_token": default_token_generator.make_token(author),
        "unsubscribe_token": make_unsubscribe_token(author),
    }


PUBLIC_PATHS = [
    "/",
    "/{slug}/",
    "/{draft.slug}/",
    "/feed/",
    "/sitemap.xml",
    "/search/",
    "/signup/",
    "/signup/done/",
    "/login/",
    "/logout/",
    "/verify/{uuid}/",
    "/verify/resend/",
    "/account/",
    "/reports/settings/",
    "/password-reset/",
    "/password-reset/sent/",
    "/password-reset/{uidb64}/{reset_token}/",
    "/password-reset/done/",
    "/reports/unsubscribe/{unsubscribe_token}/",
    "/healthz",
    "/admin/login/",
]


def forget_rate_limits():
    """Each example starts with fresh limits, so that the forms themselves are exercised, not only the 429."""
    redis = redis_client.client()
    for key in redis.scan_iter(match="*rl:*", count=1000):
        redis.delete(key)


def hostile_client(**kwargs):
    client = Client(**kwargs)
    client.raise_request_exception = False  # a 500 is observed as a response, with its exception kept
    return client


def assert_answered(response, what):
    """A 4xx, or a proper page (2xx, or a redirect): never a server error."""
    if response.status_code >= 500:
        exc = "".join(traceback.format_exception(*response.exc_info)) if response.exc_info else ""
        pytest.fail(f"{what} answered {response.status_code}\n{exc}")
    assert 200 <= response.status_code < 500, what
    if response.status_code == 200 and response["Content-Type"].startswith("text/html") and response.content:
        assert response.content.rstrip().endswith(b"</html>"), f"{what}: a cut-off page"


def row_counts():
    return User.objects.count(), Post.objects.count()


# --- URLs ----------------------------------------------------------------------------------------------


@bounded
@given(path=st.sampled_from(PUBLIC_PATHS), method=st.sampled_from(METHODS), query=nasty_text)
def test_every_public_url_answers_every_method_and_query_without_a_500(site, path, method, query):
    path = path.format(**site)
    before = row_counts()
    forget_rate_limits()
    response = hostile_client().generic(method, f"{path}?q={quote(query.encode())}&next={quote(query.encode())}")
    assert_answered(response, f"{method} {path}")
    assert row_counts() == before


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "TRACE"])
def test_pages_that_only_show_something_refuse_other_methods(site, method):
    client = hostile_client(enforce_csrf_checks=True)
    for path in ("/", f"/{site['slug']}/", "/feed/", "/sitemap.xml", "/search/", "/signup/done/", "/healthz"):
        response = client.generic(method, path)
        assert response.status_code in {403, 405}, f"{method} {path}: {response.status_code}"
    client = hostile_client()  # past the CSRF check too
    for path in ("/", f"/{site['slug']}/", "/feed/", "/sitemap.xml", "/search/", "/healthz"):
        assert client.generic(method, path).status_code == 405, f"{method} {path}"


@bounded
@given(
    prefix=st.sampled_from(
        [
            "/",
            "/verify/",
            "/reports/unsubscribe/",
            "/password-reset/",
            "/password-reset/MQ/",
            "/admin/",
            "/admin/login/",
            "/static/",
            "/feed/",
            "/signup/",
            "/verify/resend/",
        ]
    ),
    segment=raw_segment(),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
)
def test_hostile_path_segments_are_refused_not_crashed_on(site, prefix, segment, method):
    before = row_counts()
    forget_rate_limits()
    response = hostile_client().generic(method, f"{prefix}{segment}/")
    assert_answered(response, f"{method} {prefix}{segment}/")
    assert row_counts() == before
    assert site["draft"].title.encode() not in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/%ff/",
        "/%c0%af/",
        "/%ed%a0%80/",  # an encoded surrogate
        "/verify/%ff%fe%fd/",
        "/%00/",
        "/a-published-post%00/",
        "/a-published-post/%00",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/../quick_publisher/settings.py",
        "/static/%2e%2e/%2e%2e/quick_publisher/settings.py",
        "/..%5c..%5csettings.py",
        "/а-published-post/",  # Cyrillic "а"
        "/A-PUBLISHED-POST/",
        "/a-draft/",
        "/verify/not-a-uuid/",
        "/verify/00000000-0000-0000-0000-000000000000/",
        "/reports/unsubscribe/%00/",
        "/password-reset/%ff/%ff/",
        "/password-reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5/set-password/",
        "/password-reset/LTE/set-password/",
        "/password-reset/AA/x-x/",
    ],
)
def test_crafted_paths_are_404_or_an_invalid_link_page(site, path):
    for method in ("GET", "POST"):
        response = hostile_client().generic(method, path)
        assert_answered(response, f"{method} {path}")
        assert response.status_code in {200, 400, 404, 405}, f"{method} {path}: {response.status_code}"
        assert b"SECRET_KEY" not in response.content and b"root:x:0:0" not in response.content  # no file served
        assert site["draft"].title.encode() not in response.content


@bounded
@given(uuid_text=not_a_uuid, method=st.sampled_from(["GET", "POST"]))
def test_malformed_or_unknown_verification_uuids_are_404(site, uuid_text, method):
    response = hostile_client().generic(method, f"/verify/{quote(uuid_text)}/")
    assert_answered(response, uuid_text)
    assert response.status_code == 404
    assert not User.objects.filter(is_verified=True).exclude(pk=site["author"].pk).exists()


@bounded
@given(page=page_numbers)
def test_any_page_number_is_a_page_or_404(site, page):
    response = hostile_client().get("/", {"page": page})
    assert_answered(response, f"?page={page!r}")
    assert response.status_code in {200, 404}


def test_huge_and_negative_page_numbers_are_404(site):
    client = hostile_client()
    for page in ("999999999999", "-1", "0", "abc", "9" * 4000):
        assert client.get(f"/?page={page}").status_code == 404, page
    assert client.get("/?page=last").status_code == 200
    assert client.get("/?page=1").status_code == 200


# --- Forms ---------------------------------------------------------------------------------------------


def maybe(valid, hostile=nasty_text):
    """Mostly hostile, sometimes the valid value, so that the other fields get checked too."""
    return st.one_of(st.just(valid), hostile)


@bounded
@given(
    email=maybe("new.person@example.com"),
    full_name=maybe("New Person"),
    password1=maybe(PASSWORD),
    password2=maybe(PASSWORD),
)
def test_signup_refuses_hostile_values_without_leaving_a_row(site, email, full_name, password1, password2):
    forget_rate_limits()
    users_before, posts_before = row_counts()
    response = hostile_client().post(
        "/signup/", {"email": email, "full_name": full_name, "password1": password1, "password2": password2}
    )
    assert_answered(response, "sign-up")
    if response.status_code == 302:
        assert response.url == "/signup/done/"
        assert row_counts() == (users_before + 1, posts_before)
        user = User.objects.order_by("-pk").first()
        assert "\x00" not in user.email + user.full_name
        assert not set(user.full_name) & set("\r\n\t\x0b\x0c"), repr(user.full_name)
        assert user.full_name == user.full_name.strip() and user.full_name
        assert not user.is_verified and not user.is_staff
    else:
        assert response.status_code == 200
        assert row_counts() == (users_before, posts_before)


@pytest.mark.parametrize(
    "twin",
    [
        "AUTHOR@EXAMPLE.COM",
        "author@EXAMPLE.com",
        " author@example.com ",
        "author@exa\u00admple.com",
        "author@ex\u200dample.com",
        "author@EXAMPLE.CO\u200bM",
    ],
)
def test_another_spelling_of_the_same_mailbox_cannot_open_a_second_account(site, twin):
    forget_rate_limits()
    before = row_counts()
    response = hostile_client().post(
        "/signup/", {"email": twin, "full_name": "Twin", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert row_counts() == before


def test_a_look_alike_domain_is_another_address_and_is_stored_as_it_is_mailed(site):
    look_alike = "author@ex\u0430mple.com"  # Cyrillic "а"
    client = hostile_client()
    response = client.post(
        "/signup/", {"email": look_alike, "full_name": "Mallory", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(full_name="Mallory")
    assert user.email == "author@xn--exmple-4nf.com" and user.email != site["author"].email
    client.logout()
    assert client.post("/login/", {"username": look_alike, "password": PASSWORD}).status_code == 302


OPEN_REDIRECTS = [
    "//evil.example.com/",
    "https://evil.example.com",
    "javascript:alert(1)",
    "/\\evil.example.com",
    "\x00",
    "http:///evil.example.com",
]


@bounded
@given(
    path=st.sampled_from(["/login/", "/admin/login/"]),
    username=maybe("author@example.com"),
    password=maybe(PASSWORD),
    next_url=maybe("/account/", st.sampled_from(OPEN_REDIRECTS)),
)
def test_login_forms_refuse_hostile_values(site, path, username, password, next_url):
    forget_rate_limits()
    before = row_counts()
    client = hostile_client()
    response = client.post(path, {"username": username, "password": password, "next": next_url})
    assert_answered(response, path)
    assert row_counts() == before
    if response.status_code == 302:
        assert username == "author@example.com" and password == PASSWORD
        assert response.url.startswith("/") and not response.url.startswith(("//", "/\\")), response.url
    else:
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session


@bounded
@given(path=st.sampled_from(["/verify/resend/", "/password-reset/"]), email=nasty_text)
def test_resend_and_reset_forms_refuse_hostile_addresses(site, path, email):
    forget_rate_limits()
    before = row_counts()
    response = hostile_client().post(path, {"email": email})
    assert_answered(response, path)
    assert response.status_code in {200, 302}
    assert row_counts() == before


HOSTILE_FREQUENCIES = st.sampled_from(["", "daily", "weekly", "off", "\x00", "1" * 1000])
HOSTILE_TIME_ZONES = st.sampled_from(["UTC", "Asia/Kathmandu", "", "Mars/Olympus", "../etc/passwd", "\x00", "x" * 100])
HOSTILE_HOURS = st.sampled_from(["0", "23", "24", "-1", "7.5", "", "\x00"])


@bounded
@given(full_name=nasty_text, time_zone=HOSTILE_TIME_ZONES)
def test_account_form_refuses_or_cleans_hostile_names(site, full_name, time_zone):
    user = site["author"]
    User.objects.filter(pk=user.pk).update(full_name="Kept Name")
    client = hostile_client()
    client.force_login(user)
    before = row_counts()
    response = client.post("/account/", {"full_name": full_name, "time_zone": time_zone})
    assert_answered(response, "account")
    assert row_counts() == before
    user.refresh_from_db()
    if response.status_code == 302:
        assert user.full_name == " ".join(full_name.split())
        assert user.full_name and "\x00" not in user.full_name and "\n" not in user.full_name
    else:
        assert response.status_code == 200
        assert user.full_name == "Kept Name"


@bounded
@given(frequency=HOSTILE_FREQUENCIES, hour=HOSTILE_HOURS)
def test_report_settings_form_refuses_hostile_choices(site, frequency, hour):
    """The report frequency and hour, once on the account form, are on the report settings page."""
    user = site["author"]
    ReportPreferences.objects.filter(pk=user.pk).update(frequency="weekly", hour=9)
    client = hostile_client()
    client.force_login(user)
    before = row_counts()
    response = client.post("/reports/settings/", {"frequency": frequency, "hour": hour})
    assert_answered(response, "report settings")
    assert row_counts() == before
    preferences = ReportPreferences.objects.get(pk=user.pk)
    if response.status_code == 302:
        assert (preferences.frequency, str(preferences.hour)) == (frequency, hour)
        assert frequency in {"daily", "weekly", "off"} and 0 <= preferences.hour <= 23
    else:
        assert response.status_code == 200
        assert (preferences.frequency, preferences.hour) == ("weekly", 9)


@bounded
@given(
    uidb64=st.one_of(raw_segment(), st.none()),
    token=st.one_of(raw_segment(), st.none()),
    password=maybe("brand-new-pass-77"),
)
def test_password_reset_confirm_refuses_hostile_links_and_passwords(site, uidb64, token, password):
    """None stands for the genuine part of the link."""
    author = site["author"]
    genuine = uidb64 is None and token is None
    uidb64 = site["uidb64"] if uidb64 is None else uidb64
    token = default_token_generator.make_token(author) if token is None else token
    path = f"/password-reset/{uidb64}/{token}/"
    client = hostile_client()
    response = client.get(path, follow=True)
    assert_answered(response, path)
    response = client.post(
        response.redirect_chain[-1][0] if response.redirect_chain else path,
        {"new_password1": password, "new_password2": password},
    )
    assert_answered(response, path)
    author.refresh_from_db()
    if author.check_password(PASSWORD):
        return
    changed_to_the_typed_password = author.check_password(password)
    author.set_password(PASSWORD)  # for the next example, whatever this one asserts
    author.save(update_fields=["password"])
    # Only the genuine link may change it, and only to the password typed (twice, and accepted by the validators).
    assert genuine and changed_to_the_typed_password and response.status_code == 302


@bounded
@given(token=raw_segment(), method=st.sampled_from(["GET", "POST"]))
def test_unsubscribe_refuses_hostile_tokens(site, token, method):
    response = hostile_client().generic(method, f"/reports/unsubscribe/{token}/")
    assert_answered(response, token)
    assert response.status_code in {400, 404}
    assert ReportPreferences.objects.filter(frequency="off").count() == 0


# --- Requests that are wrong as a whole ----------------------------------------------------------------

FORMS = {
    "/signup/": {"email": "csrf@example.com", "full_name": "No Token", "password1": PASSWORD, "password2": PASSWORD},
    "/login/": {"username": "author@example.com", "password": PASSWORD},
    "/admin/login/": {"username": "author@example.com", "password": PASSWORD},
    "/verify/resend/": {"email": "unverified@example.com"},
    "/password-reset/": {"email": "author@example.com"},
    "/account/": {"full_name": "Changed Without A Token"},
    "/reports/settings/": {"frequency": "off", "hour": "3"},
    "/logout/": {},
}


@pytest.mark.parametrize("path", [*FORMS, "verify", "reset-confirm"])
@pytest.mark.parametrize("token", [None, "forged-token-" + "x" * 51])
def test_forms_without_a_valid_csrf_token_are_refused_and_change_nothing(site, path, token):
    client = hostile_client(enforce_csrf_checks=True)
    logged_in = path in {"/account/", "/reports/settings/", "/logout/", "verify"}
    if logged_in:
        client.force_login(site["unverified"] if path == "verify" else site["author"])
    data = dict(FORMS.get(path, {}))
    if path == "verify":
        path = f"/verify/{site['uuid']}/"
    elif path == "reset-confirm":
        path = client.get(f"/password-reset/{site['uidb64']}/{site['reset_token']}/").url
        data = {"new_password1": "brand-new-pass-77", "new_password2": "brand-new-pass-77"}
    if token:
        data["csrfmiddlewaretoken"] = token
    before = row_counts()
    response = client.post(path, data)
    assert response.status_code == 403, (path, response.status_code)
    assert row_counts() == before
    site["author"].refresh_from_db()
    site["unverified"].refresh_from_db()
    assert site["author"].full_name != "Changed Without A Token"
    assert ReportPreferences.objects.get(pk=site["author"].pk).frequency != "off"
    assert site["author"].check_password(PASSWORD)
    assert not site["unverified"].is_verified
    assert ("_auth_user_id" in client.session) == logged_in


def test_unsubscribe_takes_a_one_click_post_without_csrf_by_design(site):
    """RFC 8058: mail clients POST with no session and no token; the signed link is the proof."""
    client = hostile_client(enforce_csrf_checks=True)
    response = client.post(f"/reports/unsubscribe/{site['unsubscribe_token']}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert ReportPreferences.objects.get(pk=site["author"].pk).frequency == "off"


@pytest.mark.parametrize("path", ["/signup/", "/login/", "/admin/login/", "/verify/resend/", "/password-reset/"])
def test_oversized_malformed_and_overcrowded_bodies_are_400(site, path):
    client = hostile_client()
    too_big = client.post(path, {"email": "a@example.com", "username": "x", "blob": "x" * (3 * 1024 * 1024)})
    too_many = client.post(path, {f"field{i}": "x" for i in range(1_500)})
    broken_multipart = client.generic(
        "POST",
        path,
        b'--boundary\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff\x00',
        content_type="multipart/form-data; boundary=",
    )
    bad_charset = client.generic(
        "POST", path, b"email=a%ff%00@example.com", content_type="application/x-www-form-urlencoded; charset=nope"
    )
    for name, response in [
        ("too big", too_big),
        ("too many fields", too_many),
        ("broken multipart", broken_multipart),
        ("unknown charset", bad_charset),
    ]:
        assert_answered(response, f"{name}: {path}")
    assert too_big.status_code == 400 and too_many.status_code == 400
    assert broken_multipart.status_code == 400
    assert row_counts() == (2, 2)


@pytest.mark.parametrize("host", ["evil.example.com", "testserver\x00", "[::1", "a" * 300])
def test_an_unexpected_host_header_is_400(site, host):
    response = hostile_client().get("/", HTTP_HOST=host)
    assert_answered(response, host)
    assert response.status_code == 400


@bounded
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "HTTP_USER_AGENT",
                "HTTP_REFERER",
                "HTTP_ACCEPT_LANGUAGE",
                "HTTP_COOKIE",
                "HTTP_X_FORWARDED_FOR",
                "HTTP_ACCEPT",
                "HTTP_IF_MODIFIED_SINCE",
                "HTTP_RANGE",
                "HTTP_X_REAL_IP",
            ]
        ),
        st.one_of(nasty_text, st.text(alphabet=string.printable, max_size=500)).map(
            lambda s: s.encode().decode("latin-1")
        ),
    )
)
def test_hostile_request_headers_do_not_crash_a_page(site, headers):
    forget_rate_limits()
    client = hostile_client()
    for path in ("/", f"/{site['slug']}/", "/signup/"):
        response = client.get(path, **headers)
        assert_answered(response, f"{path} {headers!r}")
    response = client.post("/login/", {"username": "x@example.com", "password": "wrong"}, **headers)
    assert_answered(response, f"login {headers!r}")


@pytest.mark.django_db
def test_view_on_site_for_a_model_gone_or_not_in_the_admin_is_a_404():
    from django.contrib.contenttypes.models import ContentType

    author = AuthorFactory()
    client = Client()
    client.force_login(author)
    gone = ContentType.objects.create(app_label="gone", model="removedmodel")
    not_in_admin = ContentType.objects.get(app_label="sessions", model="session")
    for content_type in (gone, not_in_admin):
        assert client.get(f"/admin/r/{content_type.pk}/1/").status_code == 404
