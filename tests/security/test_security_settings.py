"""Rate limits, tokens, production settings, the Content-Security-Policy, secrets and known vulnerabilities."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django_celery_beat.models import PeriodicTask

from main import services
from main.models import User
from publisher.models import ReportPreferences
from publisher.periodic_tasks import DUE_REPORTS
from publisher.reports.tokens import make_unsubscribe_token
from tests.factories import PASSWORD, AuthorFactory, PostFactory, UserFactory

ROOT = Path(django_settings.BASE_DIR)


@pytest.fixture
def quick_password_hashing(settings):
    """Dozens of logins in a row: argon2's deliberate slowness is for production."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Rate limits ---------------------------------------------------------------------------------------


def allowed(rate):
    """How many requests a rate such as "20/h" lets through (the limits are read when the views are imported)."""
    return int(rate.split("/")[0])


LIMITED_FORMS = {
    "sign-up": ("/signup/", "SIGNUP_RATE_LIMIT", lambda n: {"email": f"new{n}@example.com", "full_name": "N"}),
    "login": ("/login/", "LOGIN_RATE_LIMIT", lambda n: {"username": f"who{n}@example.com", "password": "wrong"}),
    "admin login": ("/admin/login/", "LOGIN_RATE_LIMIT", lambda n: {"username": f"x{n}@example.com", "password": "w"}),
    "verification resend": ("/verify/resend/", "RESEND_RATE_LIMIT", lambda n: {"email": f"who{n}@example.com"}),
    "password reset": ("/password-reset/", "RESEND_RATE_LIMIT", lambda n: {"email": f"who{n}@example.com"}),
}


@pytest.mark.django_db
@pytest.mark.parametrize("form", LIMITED_FORMS)
def test_each_form_answers_429_from_one_address_once_its_limit_is_spent(
    client, quick_password_hashing, clock_within_one_rate_window, form
):
    path, setting, data = LIMITED_FORMS[form]
    limit = allowed(getattr(django_settings, setting))
    statuses = [client.post(path, data(n)).status_code for n in range(limit + 2)]
    assert 429 not in statuses[:limit], statuses
    assert statuses[limit:] == [429, 429], statuses
    assert "Too many attempts" in client.post(path, data(0)).content.decode()
    assert client.get(path).status_code == 200  # reading the form is never limited


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["login", "admin login", "verification resend", "password reset"])
def test_each_form_answers_429_for_one_account_from_many_addresses(
    client, quick_password_hashing, clock_within_one_rate_window, form
):
    path, setting, _ = LIMITED_FORMS[form]
    limit = allowed(getattr(django_settings, setting))
    field = "username" if "login" in form else "email"
    statuses = [
        client.post(
            path, {field: "Target@Example.com", "password": "guess"}, REMOTE_ADDR=f"10.1.{n // 250}.{n % 250}"
        ).status_code
        for n in range(limit + 1)
    ]
    assert 429 not in statuses[:limit] and statuses[limit] == 429, statuses


@pytest.mark.django_db
def test_login_and_admin_login_share_one_budget(client, quick_password_hashing, clock_within_one_rate_window):
    limit = allowed(django_settings.LOGIN_RATE_LIMIT)
    half = limit // 2
    statuses = [
        client.post("/login/", {"username": f"a{n}@example.com", "password": "x"}).status_code for n in range(half)
    ]
    statuses += [
        client.post("/admin/login/", {"username": f"b{n}@example.com", "password": "x"}).status_code
        for n in range(limit - half + 1)
    ]
    assert statuses[-1] == 429 and 429 not in statuses[:-1], statuses


@pytest.mark.django_db
@pytest.mark.parametrize("meta_key", ["REMOTE_ADDR", "HTTP_X_REAL_IP"])
def test_behind_a_proxy_the_limit_is_per_client_address_from_the_header_the_setting_names(
    client, settings, clock_within_one_rate_window, meta_key
):
    """Every request comes from the proxy (one REMOTE_ADDR); the proxy sets X-Real-IP to the client's address."""
    settings.RATELIMIT_IP_META_KEY = meta_key
    limit = allowed(django_settings.RESEND_RATE_LIMIT)

    def resend(n, client_address):
        response = client.post(
            "/verify/resend/", {"email": f"who{n}@example.com"}, REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP=client_address
        )
        # 200 is the form's answer (the same whether or not the address has an account), 429 the limit's.
        if response.status_code == 200:
            assert "Check your inbox" in response.content.decode()
        return response.status_code

    first_client = [resend(n, "203.0.113.5") for n in range(limit + 1)]
    assert first_client == [200] * limit + [429], first_client
    another_client = resend(limit + 1, "198.51.100.7")
    # The proxy's address: one budget for everyone behind it. The header's: each client its own, still unspent.
    assert another_client == (429 if meta_key == "REMOTE_ADDR" else 200)


def test_ratelimit_ip_meta_key_is_read_from_the_environment():
    assert production_settings()["RATELIMIT_IP_META_KEY"] == "REMOTE_ADDR"
    assert production_settings(RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP")["RATELIMIT_IP_META_KEY"] == "HTTP_X_REAL_IP"


@pytest.mark.django_db(transaction=True)
def test_while_redis_is_down_rate_limits_are_not_enforced_and_the_forms_answer(client, private_redis):
    from django.core.cache import caches

    limit = allowed(django_settings.RESEND_RATE_LIMIT)
    private_redis.stop()
    try:
        statuses = [client.post("/verify/resend/", {"email": "same@example.com"}).status_code for _ in range(limit + 3)]
    finally:
        private_redis.start()
        del caches["default"]  # this thread's cache leaves Redis alone for a moment after an error: not the next test
    assert statuses == [200] * (limit + 3), statuses  # neither 429 (fail open) nor 500 (the cache raising)


@pytest.mark.django_db
def test_a_rate_limited_answer_is_the_same_for_known_and_unknown_addresses(client, clock_within_one_rate_window):
    UserFactory(email="known@example.com")
    limit = allowed(django_settings.RESEND_RATE_LIMIT)
    for path in ("/verify/resend/", "/password-reset/"):
        for email in ("known@example.com", "unknown@example.com"):
            for n in range(limit):
                client.post(path, {"email": email}, REMOTE_ADDR=f"10.2.0.{n}")
        known = client.post(path, {"email": "known@example.com"}, REMOTE_ADDR="10.2.1.1")
        unknown = client.post(path, {"email": "unknown@example.com"}, REMOTE_ADDR="10.2.1.2")
        assert known.status_code == unknown.status_code == 429
        assert known.content == unknown.content


def same_page(response, email):
    """The page with the address the visitor typed and the per-response CSRF mask taken out."""
    page = response.content.decode().replace(email, "ADDRESS")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", page)


@pytest.mark.django_db
def test_resend_and_reset_answer_the_same_for_known_and_unknown_addresses(client):
    UserFactory(email="unverified@example.com")
    AuthorFactory(email="verified@example.com")
    for path in ("/verify/resend/", "/password-reset/"):
        answers = []
        for n, email in enumerate(["unverified@example.com", "verified@example.com", "nobody@example.com"]):
            response = client.post(path, {"email": email}, REMOTE_ADDR=f"10.3.{n}.1", follow=True)
            answers.append((response.status_code, response.redirect_chain, same_page(response, email)))
        assert answers[0] == answers[1] == answers[2], path


@pytest.mark.django_db
def test_login_answers_the_same_for_a_wrong_password_and_an_unknown_address(client, quick_password_hashing):
    AuthorFactory(email="writer@example.com")
    inactive = AuthorFactory(email="gone@example.com")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    pages = []
    for email, password in [
        ("writer@example.com", "wrong"),
        ("nobody@example.com", "wrong"),
        ("gone@example.com", PASSWORD),
    ]:
        response = client.post("/login/", {"username": email, "password": password})
        assert response.status_code == 200
        pages.append(same_page(response, email))
    assert pages[0] == pages[1] == pages[2]


# --- Tokens --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verification_uuids_are_random_uuid4s_and_rotate_on_verify(client):
    users = UserFactory.create_batch(20)
    uuids = [u.verification_uuid for u in users]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in uuids)
    assert len(set(uuids)) == 20
    # Not a counter: consecutive sign-ups share no long prefix.
    assert len({str(u)[:8] for u in uuids}) == 20

    user = users[0]
    client.force_login(user)
    old = user.verification_uuid
    assert client.post(f"/verify/{old}/").status_code == 302
    user.refresh_from_db()
    assert user.is_verified and user.verification_uuid != old and user.verification_uuid.version == 4
    client.logout()
    assert client.get(f"/verify/{old}/").status_code == 404  # replay by anyone else
    assert client.post(f"/verify/{old}/").status_code == 404


@pytest.mark.django_db
def test_verification_uuid_rotates_when_the_link_is_resent(smtp_server):
    user = UserFactory()
    old = user.verification_uuid
    assert services.send_verification_email(user_id=user.pk, resend=True) == "sent"
    user.refresh_from_db()
    assert user.verification_uuid != old and user.verification_uuid.version == 4
    assert str(user.verification_uuid) in smtp_server.wait_for(1)[0].as_string()


@pytest.mark.django_db
def test_unsubscribe_tokens_are_signed_and_any_change_is_400(client):
    a, b = AuthorFactory(), AuthorFactory()
    token = make_unsubscribe_token(a)
    value, timestamp, signature = token.split(":")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    b_value = signing.b64_encode(json.dumps(b.pk).encode()).decode()
    tampered = [
        f"{b_value}:{timestamp}:{signature}",  # someone else's id under A's signature
        f"{value}:{timestamp}:{flipped}",
        f"{value}:{timestamp}:",
        f"{value}:{timestamp}",
        f"{value}::{signature}",
        signing.dumps(b.pk),  # signed, but with the wrong salt
        signing.dumps(b.pk, salt="publisher.reports.unsubscribe", key="not-our-secret-key"),
        token.upper(),
        token + "x",
        "x" + token,
    ]
    for bad in tampered:
        response = client.post(f"/reports/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert client.get(f"/reports/unsubscribe/{bad}/").status_code == 400, bad
    assert ReportPreferences.objects.filter(frequency="off").count() == 0
    assert client.post(f"/reports/unsubscribe/{token}/").status_code == 200
    assert [p.author for p in ReportPreferences.objects.filter(frequency="off")] == [a]


@pytest.mark.django_db
def test_unsubscribe_tokens_expire(client, settings):
    author = AuthorFactory()
    token = make_unsubscribe_token(author)
    settings.UNSUBSCRIBE_LINK_MAX_AGE = timedelta(seconds=-1)
    assert client.post(f"/reports/unsubscribe/{token}/").status_code == 400
    assert ReportPreferences.objects.get(pk=author.pk).frequency == "daily"


# --- Production settings, cookies and the Content-Security-Policy -------------------------------------

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "a-real-looking-production-secret-0123456789",
    "ALLOWED_HOSTS": "blog.example.com",
    "SITE_URL": "https://blog.example.com",
}
SETTINGS_TO_READ = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "SECURE_REFERRER_POLICY",
    "SECURE_PROXY_SSL_HEADER",
    "RATELIMIT_IP_META_KEY",
]


def production_settings(**env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT"}}
    full_env.update(ENV_FILE="/dev/null", DJANGO_SETTINGS_MODULE="quick_publisher.settings", **PRODUCTION_ENV, **env)
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{name: getattr(settings, name) for name in {SETTINGS_TO_READ!r}}}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_make_cookies_secure_and_httponly():
    prod = production_settings()
    assert prod["DEBUG"] is False
    assert prod["SESSION_COOKIE_SECURE"] and prod["SESSION_COOKIE_HTTPONLY"]
    # No script of ours reads the CSRF cookie (forms carry the token), so it can be HttpOnly too.
    assert prod["CSRF_COOKIE_SECURE"] and prod["CSRF_COOKIE_HTTPONLY"]
    assert prod["SESSION_COOKIE_SAMESITE"] == prod["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert prod["SECURE_SSL_REDIRECT"] and prod["SECURE_HSTS_SECONDS"] >= 31536000
    assert prod["SECURE_CONTENT_TYPE_NOSNIFF"] and prod["X_FRAME_OPTIONS"] == "DENY"
    assert prod["SECURE_PROXY_SSL_HEADER"] is None  # trusted only when BEHIND_TLS_PROXY says so
    assert production_settings(BEHIND_TLS_PROXY="1")["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.django_db
def test_the_cookies_actually_sent_are_secure_httponly_and_samesite(client):
    """The test session runs with DEBUG=0 (pyproject's pytest env), so these are the production cookies."""
    AuthorFactory(email="writer@example.com")
    csrf = client.get("/login/").cookies["csrftoken"]
    response = client.post("/login/", {"username": "writer@example.com", "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    for cookie in (csrf, session):
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax", cookie.OutputString()


def csp_directives(response):
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


@pytest.mark.django_db
def test_every_public_page_has_a_content_security_policy_that_refuses_inline_script(client):
    post = PostFactory()
    user = UserFactory()
    pages = [
        "/",
        f"/{post.slug}/",
        "/signup/",
        "/login/",
        "/verify/resend/",
        "/password-reset/",
        f"/verify/{user.verification_uuid}/",
        "/no-such-post/",
        "/admin/login/",
        "/feed/",
        "/sitemap.xml",
    ]
    for path in pages:
        response = client.get(path)
        directives = csp_directives(response)
        script_src = directives.get("script-src", directives.get("default-src"))
        assert script_src == ["'self'"], (path, script_src)
        assert directives["default-src"] == ["'self'"], path
        assert directives["object-src"] == ["'none'"], path
        assert directives["base-uri"] == ["'self'"], path
        assert "'unsafe-inline'" not in directives.get("script-src-attr", []), path
    client.force_login(user)
    assert csp_directives(client.get("/account/"))["script-src"] == ["'self'"]
    assert csp_directives(client.get("/reports/settings/"))["script-src"] == ["'self'"]


DATA_BLOCK = re.compile(r'\btype="application/(?:ld\+)?json"', re.I)  # a script element that holds data, never run


def test_no_template_of_ours_relies_on_inline_script():
    """The policy would block it anyway: this keeps the pages working under it."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        if template.parent.name == "emails":
            continue  # mail clients, not browsers under our policy
        text = template.read_text()
        scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.I)
        if any(not DATA_BLOCK.search(tag) for tag in scripts) or re.search(r"\son[a-z]+\s*=", text, re.I):
            offenders.append(template.name)
        if re.search(r"javascript:", text, re.I):
            offenders.append(template.name)
    assert not offenders


@pytest.mark.django_db
def test_the_admin_pages_run_no_inline_script(admin_client):
    """Rendered, with the third-party admins' templates: every script is a file; inline ones are data only."""
    task = PeriodicTask.objects.get(name=DUE_REPORTS)
    pages = [
        "/admin/",
        "/admin/publisher/post/add/",
        "/admin/django_celery_beat/periodictask/",
        "/admin/django_celery_beat/periodictask/add/",
        f"/admin/django_celery_beat/periodictask/{task.pk}/change/",
        "/admin/publisher/reportrun/",
        "/admin/publisher/reportdelivery/",
        "/admin/publisher/reportpreferences/",
        "/admin/main/user/",
    ]
    for path in pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        inline = [
            tag
            for tag in re.findall(r"<script\b[^>]*>", response.content.decode(), re.I)
            if "src=" not in tag and 'type="application/json"' not in tag
        ]
        assert not inline, (path, inline)


# --- Secrets -------------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[sr]k_live_[0-9a-zA-Z]{16,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?![/\s])[^/\s@'\"{}$<>]+@[\w.-]+"),
    "secret assigned": re.compile(
        r"(?i)\b(?:SECRET_KEY|[A-Z_]*PASSWORD|[A-Z_]*API_KEY|[A-Z_]*SECRET|[A-Z_]*TOKEN)\s*[:=]\s*"
        r"['\"]([^'\"\s]{8,})['\"]"
    ),
}
# Values that say what they are: development and test placeholders, never used in production.
PLACEHOLDER = re.compile(
    r"(?i)insecure|test|example|dummy|placeholder|changeme|not-used|development|fake|://user:pass(word)?@"
)
NEVER_TRACKED = re.compile(r"(^|/)(\.env(\..*)?|id_rsa|id_ed25519|.*\.pem|.*\.key|.*\.p12|.*\.sqlite3|var/.*)$")


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, errors="replace", check=True)


def secrets_in(text):
    found = []
    for name, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(match.lastindex or 0)
            if name in {"secret assigned", "password in a URL"} and PLACEHOLDER.search(value):
                continue
            found.append(f"{name}: {match.group(0)[:60]}")
    return found


# The scanner's own test vectors, split so that this file does not contain them whole. An earlier commit of this
# file did, so the history scan below knows them by what the scanner reports for them.
FAKE_LEAKS = "\n".join(
    [
        "SECRET_KEY" + ' = "n8#x!q2v$k0z@4m7p1r9t6w3y5u8i0o2"',
        "EMAIL_HOST_PASSWORD" + ": 'hunter2hunter2'",
        "DATABASE_URL=postgres://app:" + "s3cretpw@db.internal:5432/app",
        "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
        "AKIA" + "ABCDEFGHIJKLMNOP",
    ]
)


def test_the_secret_scanner_finds_what_it_looks_for():
    assert len(secrets_in(FAKE_LEAKS)) == 5
    assert secrets_in('SECRET_KEY = "insecure-development-key-used-only-with-DEBUG-on"') == []
    assert secrets_in("postgres://postgres@127.0.0.1:5432/db  redis://127.0.0.1:6379/0") == []


def test_no_secret_is_committed_now_or_in_history():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to scan")
    tracked = git("ls-files").stdout.splitlines()
    assert not [path for path in tracked if NEVER_TRACKED.search(path)]
    assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT).returncode == 0, ".env is not ignored"
    found = []
    for path in tracked:
        file = ROOT / path
        if file.is_file():
            found += [f"{path}: {s}" for s in secrets_in(file.read_text(errors="replace"))]
    # Added lines of every commit: a secret removed later is still in the repository.
    history = git("log", "--all", "-p", "--no-color", "--no-ext-diff", "--format=commit %H").stdout
    added = "\n".join(line[1:] for line in history.splitlines() if line.startswith("+") and not line.startswith("+++"))
    fake = set(secrets_in(FAKE_LEAKS))
    found += [f"history: {s}" for s in secrets_in(added) if s not in fake]
    assert not found, "\n".join(found)


# --- Known vulnerabilities -----------------------------------------------------------------------------


def vulnerability_service_answers():
    """pip-audit asks PyPI's JSON API (pypi.org/pypi/<name>/<version>/json) for each package's advisories."""
    url = f"https://pypi.org/pypi/django/{importlib.metadata.version('django')}/json"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200 and "vulnerabilities" in json.load(response)
    except (OSError, ValueError):
        return False


def installed_runtime_pins():
    """requirements.txt and everything it pulls in, at the versions installed here: what the platform runs."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = (ROOT / "requirements.txt").read_text().splitlines()
    todo = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    versions, seen = {}, set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        distribution = importlib.metadata.distribution(requirement.name)
        versions[name] = distribution.version
        for line in distribution.requires or []:
            dependency = Requirement(line)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({**default_environment(), "extra": extra}) for extra in extras
            ):
                todo.append(dependency)
    return versions


def test_pinned_dependencies_have_no_known_vulnerability(tmp_path):
    if not vulnerability_service_answers():
        pytest.skip(
            "PyPI's vulnerability data (https://pypi.org/pypi/<name>/<version>/json) does not answer from "
            "here (offline, or a proxy without that API): nothing to audit against"
        )
    pins = installed_runtime_pins()
    assert "django" in pins and "kombu" in pins  # direct and indirect dependencies alike
    requirements = tmp_path / "installed-requirements.txt"
    requirements.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    pip_audit = Path(sys.executable).with_name("pip-audit")
    result = subprocess.run(
        [str(pip_audit), "-r", str(requirements), "--no-deps", "--strict", "--desc", "on", "--progress-spinner", "off"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
