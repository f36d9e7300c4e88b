"""End to end in a real browser: a person signs up, verifies from the local inbox, publishes, is read, and gets
the daily report (issue 7); an operator watches a report run's progress bar move while the worker sends (issue 24).

The platform runs as `make run` starts it, through honcho and the Procfile (web, worker, one beat, the local inbox),
but beside anything else that runs: its own database, ports, Redis database, mail directory and beat pidfile, and
no .env. A headless Chromium (Debian's, driven by Playwright) does what people do. The key pages are saved as
screenshots in var/e2e/ on every run, next to the platform's log (the report run's in var/e2e/report-run-progress/).
"""

import contextlib
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
import redis
from django.utils import dateformat
from playwright.sync_api import expect, sync_playwright

from quick_publisher.redis_server import free_port
from tests.support.images import photo
from tests.support.requirements import skip_unless_required
from tests.support.smtp import FaultySMTPHandler, FaultySMTPServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "var" / "e2e"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROCESSES = ("web", "worker", "beat", "mail", "flower")  # Redis is the test session's
STARTUP_TIMEOUT = 60
WAIT_TIMEOUT = 45  # for the worker's emails and results
VIEWS = 3
ONE_OFF_REPORT = "Report of the author's today (one-off)"
SUPERUSER_EMAIL = "e2e-admin@example.com"
TITLE = "Notes on the Analytical Engine"
SLUG = "notes-on-the-analytical-engine"
MARKDOWN = """\
The engine could do **more than arithmetic**: it worked on symbols.

- It reads *operation cards*
- It keeps numbers in the store

[More about it](https://en.wikipedia.org/wiki/Analytical_engine)
"""


# --- The platform ------------------------------------------------------------------------------------


def process_table():
    """{pid: (parent pid, process group)} of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


class Platform:
    """The Procfile's processes, started by honcho in a session of their own, configured through the environment."""

    def __init__(self, *, workdir, database_url, redis_url, log_path, processes=PROCESSES, **env):
        self.processes = processes
        self.web_port, self.smtp_port, self.flower_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.flower_url = f"http://127.0.0.1:{self.flower_port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "ENV_FILE": os.devnull,  # a developer's .env belongs to their own instance
            "DEBUG": "1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TIME_ZONE": "UTC",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "SITE_URL": self.url,
            "WEB_PORT": str(self.web_port),
            "RUNSERVER_ARGS": "--noreload",  # one snapshot of the code: files edited meanwhile restart nothing
            "VIEW_BATCH_INTERVAL": "0.25",  # the product's default, not the in-process tests' setting
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": "0",
            "SMTP_PORT": str(self.smtp_port),
            "DEV_MAILDIR": str(workdir / "mail"),
            "BEAT_PIDFILE": str(workdir / "celerybeat.pid"),
            "FLOWER_PORT": str(self.flower_port),
            **env,
        }
        self.process = None
        self.process_groups = set()
        self._log = None

    def manage(self, *args, **env):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
        return result.stdout

    def start(self):
        self.manage("migrate", "--noinput")
        self._log = open(self.log_path, "w")
        # `-e /dev/null`: honcho would otherwise load .env over this environment.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-e", os.devnull, *self.processes],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (
            self._answers(f"{self.url}/healthz")
            and self._listens(self.smtp_port)
            and ("flower" not in self.processes or self._listens(self.flower_port))
        ):
            self.assert_running()
            assert time.monotonic() < deadline, f"the platform did not start in {STARTUP_TIMEOUT}s\n{self.log_tail()}"
            time.sleep(0.25)
        # honcho starts each process in a session of its own: remember their groups to be sure they all stop.
        self.process_groups = {pgid for _, pgid in self._descendants().values()}

    def stop(self):
        if self.process is None:
            return
        groups = {self.process.pid, *self.process_groups, *(pgid for _, pgid in self._descendants().values())}
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # honcho stops each process group, as on Ctrl-C
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()
        deadline = time.monotonic() + 10
        while leftovers := [pid for pid, (_, pgid) in process_table().items() if pgid in groups]:
            assert time.monotonic() < deadline, f"processes left behind: {leftovers}"
            time.sleep(0.1)

    def assert_running(self):
        if self.process.poll() is not None:
            raise AssertionError(f"honcho exited with {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines=60):
        if self._log is not None and not self._log.closed:
            self._log.flush()
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _descendants(self):
        table = process_table()
        found, frontier = {}, [self.process.pid]
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, pgid) in table.items():
                if ppid == parent and pid not in found:
                    found[pid] = (ppid, pgid)
                    frontier.append(pid)
        return found

    @staticmethod
    def _answers(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    @staticmethod
    def _listens(port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def platform_database(workdir):
    """A fresh PostgreSQL database beside the test session's when DATABASE_URL names one, else a SQLite file."""
    session_url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(session_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        yield f"sqlite:///{workdir / 'db.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    name = f"{parts.path.strip('/') or 'quick_publisher'}_e2e_{secrets.token_hex(4)}"
    server = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def spare_redis_database():
    """An empty database on the test session's Redis, so the platform's queues and buffers are its own."""
    session = urlsplit(os.environ["REDIS_URL"])
    session_db = int(session.path.strip("/") or 0)
    claim = "quick_publisher:e2e:claim"
    for db in range(15, 0, -1):  # from the top: people and CI pick low numbers
        if db == session_db:
            continue
        url = urlunsplit(session._replace(path=f"/{db}"))
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            if not client.set(claim, "1", nx=True):
                continue
        except redis.ResponseError:  # no more databases on this server
            break
        if client.dbsize() != 1:  # someone else's data: leave it alone
            client.delete(claim)
            continue
        try:
            yield url
        finally:
            client.flushdb()
            client.close()
        return
    pytest.fail(f"no empty database on the Redis at {os.environ['REDIS_URL']} for the platform")


def listening_addresses(port):
    """The local addresses a TCP port is listened on, from /proc/net/tcp and tcp6 (hex, as the kernel writes them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port_hex = local.rsplit(":", 1)
                if state == "0A" and int(port_hex, 16) == port:  # LISTEN
                    found.add(address)
    return found


# --- Fixtures ----------------------------------------------------------------------------------------


def find_chromium():
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture
def browser():
    executable = find_chromium()
    if executable is None:
        skip_unless_required(
            "BROWSER",
            "no Chromium on this machine (looked for chromium, chromium-browser, google-chrome on PATH): "
            "install Debian's package with `apt-get install chromium` to run the end-to-end test",
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            # The test closes its pages as it finishes with them: any still open show where it stopped.
            for n, page in enumerate(page for context in browser.contexts for page in context.pages):
                with contextlib.suppress(Exception):
                    screenshot(page, f"unfinished-{n}")
            browser.close()


@contextlib.contextmanager
def running_platform(output, **options):
    """The platform started in a fresh database and Redis database, its log and screenshots in `output`
    (their earlier ones deleted); stopped at the end. options: Platform's processes and environment."""
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("*.png"):
        old.unlink()
    workdir = Path(tempfile.mkdtemp(prefix="qp-e2e-"))
    try:
        with platform_database(workdir) as database_url, spare_redis_database() as redis_url:
            running = Platform(
                workdir=workdir,
                database_url=database_url,
                redis_url=redis_url,
                log_path=output / "platform.log",
                **options,
            )
            try:
                yield running
            finally:
                running.stop()
                print(f"Platform log ({running.log_path}), last lines:\n{running.log_tail()}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def platform():
    with running_platform(OUTPUT) as running:
        running.start()
        yield running


def make_superuser(platform):
    password = secrets.token_urlsafe(16)
    platform.manage(
        "createsuperuser",
        "--noinput",
        "--email",
        SUPERUSER_EMAIL,
        DJANGO_SUPERUSER_PASSWORD=password,
        DJANGO_SUPERUSER_FULL_NAME="Site admin",
    )
    return {"email": SUPERUSER_EMAIL, "password": password}


@pytest.fixture
def superuser(platform):
    return make_superuser(platform)


# --- Helpers -----------------------------------------------------------------------------------------


def screenshot(page, name, output=OUTPUT):
    page.screenshot(path=output / f"{name}.png", full_page=True)


def person_context(browser, platform, **options):
    """A fresh browser profile. The site counts no views from headless browsers (publisher/counting/bots.py), so the
    profile says what a person's Chromium says."""
    major = browser.version.split(".")[0]
    context = browser.new_context(
        **options,
        base_url=platform.url,
        user_agent=f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 "
        "Safari/537.36",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(15_000)
    return context


def reload_until(page, platform, path, find, what, timeout=WAIT_TIMEOUT):
    """Open `path` again and again until `find(page)` locates something (work done by the worker); return it."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(path)
        found = find(page)
        if found.count():
            return found.first
        platform.assert_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not there after {timeout}s\n{platform.log_tail()}")
        time.sleep(0.5)


def open_email(page, platform, *, to, subject, inbox_screenshot):
    row = reload_until(
        page,
        platform,
        "/inbox/",
        lambda p: p.locator("table.inbox tbody tr").filter(has_text=to).filter(has_text=subject),
        f"an email to {to} about {subject!r} in the local inbox",
    )
    screenshot(page, inbox_screenshot)
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)


def run_periodic_task(page, name):
    """Select the task in django-celery-beat's list and run it with the "Run selected tasks" action."""
    page.goto("/admin/django_celery_beat/periodictask/")
    row = page.locator("#result_list tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Run selected tasks")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("1 task was successfully run")


# --- The test ----------------------------------------------------------------------------------------


def test_a_person_signs_up_verifies_publishes_is_read_and_gets_the_report(browser, platform, superuser):
    expect.set_options(timeout=15_000)
    author = {
        "email": f"ada-{secrets.token_hex(3)}@example.com",
        "name": "Ada Lovelace",
        "password": secrets.token_urlsafe(16),
    }
    # The author's browser is in Kathmandu (+05:45): sign-up takes that zone, and their views are counted on its days.
    author_zone = "Asia/Kathmandu"
    today = datetime.datetime.now(ZoneInfo(author_zone)).date()
    author_context = person_context(browser, platform, timezone_id=author_zone)
    page = author_context.new_page()

    # 1. The home page, and signing up (an empty form first: each error beside its field).
    page.goto("/")
    expect(page.get_by_role("heading", name="Latest posts")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(f"{platform.url}/signup/")
    page.get_by_role("button", name="Sign up").click()
    for field in ("email", "full_name", "password1", "password2"):
        beside = page.locator(".field", has=page.locator(f"#id_{field}")).locator(".field-errors")
        expect(beside).to_contain_text("This field is required.")
    screenshot(page, "signup-errors")
    page.get_by_label("Email address").fill(author["email"])
    page.get_by_label("Full name").fill(author["name"])
    page.locator("#id_password1").fill(author["password"])
    page.locator("#id_password2").fill(author["password"])
    # Filled by static/main/time_zone.js; Chromium's ICU names the zone by its older alias, which tzdata also has.
    expect(page.locator("input[name=time_zone]")).to_have_value(re.compile(r"^Asia/Kath?mandu$"))
    author_zone = page.locator("input[name=time_zone]").input_value()
    screenshot(page, "signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(author["email"])  # the "please verify" banner
    screenshot(page, "signup-done")

    # 2. The verification email in the local inbox (linked in the footer in development); its link asks to
    # confirm, because GET never verifies.
    page.get_by_role("contentinfo").get_by_role("link", name="Local inbox").click()
    expect(page.get_by_role("heading", name="Local inbox")).to_be_visible()
    open_email(
        page,
        platform,
        to=author["email"],
        subject="Confirm your email address for Quick Publisher",
        inbox_screenshot="inbox",
    )
    expect(page.locator("pre.email-text")).to_contain_text(f"{platform.url}/verify/")
    screenshot(page, "verification-email")
    page.frame_locator("iframe.email-html").get_by_role("link", name="Confirm my email address").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(platform.url)}/verify/[0-9a-f-]{{36}}/$"))
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    screenshot(page, "verification")
    page.get_by_role("button", name="Confirm my email address").click()

    # 3. An author now, in the admin: write a post in Markdown and publish it.
    expect(page).to_have_url(f"{platform.url}/admin/publisher/post/add/")
    expect(page.locator(".messagelist")).to_contain_text("Your email address is verified")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Title").blur()
    expect(page.get_by_label("Slug")).to_have_value(SLUG)  # the admin's JavaScript derives it
    page.get_by_label("Content").fill(MARKDOWN)
    # The live preview beside the editor follows the text, through the public page's renderer.
    expect(page.get_by_role("region", name="Preview").locator("strong")).to_have_text("more than arithmetic")
    page.get_by_label("Description").fill("What the Engine does beyond arithmetic.")
    page.get_by_label("Tags").fill("Engines, History")  # new tags, created on save
    cover = {"name": "engine.jpg", "mimeType": "image/jpeg", "buffer": photo(1200, 800, gps=True)}
    page.get_by_label("Cover image").set_input_files(cover)
    page.get_by_label("Cover alt text").fill("The Analytical Engine's mill")
    page.get_by_label("Status").select_option(label="Published")
    screenshot(page, "admin-write")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(f"{platform.url}/admin/publisher/post/")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    post_row = page.locator("#result_list tbody tr").filter(has_text=TITLE)
    expect(post_row.locator(".field-status")).to_have_text("Published")
    screenshot(page, "admin-post-list")

    # 4. Readers, each in a fresh browser, find the post on the home page; every visit is counted.
    for n in range(1, VIEWS + 1):
        reader_context = person_context(browser, platform)
        reader = reader_context.new_page()
        reader.goto("/")
        if n == 1:
            screenshot(reader, "home")
        reader.get_by_role("link", name=TITLE).click()
        expect(reader).to_have_url(f"{platform.url}/{SLUG}/")
        expect(reader.locator(".views")).to_have_text(f"Viewed {n} time{'s' if n > 1 else ''}")
        if n == VIEWS:
            expect(reader.locator(".post-body strong")).to_have_text("more than arithmetic")
            expect(reader.locator(".post-body li")).to_have_count(2)
            cover_image = reader.get_by_role("img", name="The Analytical Engine's mill")
            expect(cover_image).to_have_attribute("width", "1200")
            assert cover_image.evaluate("img => img.complete && img.naturalWidth") > 0, "the cover did not load"
            screenshot(reader, "public-post")
            # The post links its tags and its author; their pages show the post page's count (not flushed yet).
            reader.get_by_role("link", name="Engines").click()
            expect(reader).to_have_url(f"{platform.url}/tags/engines/")
            expect(reader.locator(".post-list .meta")).to_contain_text(f"{VIEWS} views")
            screenshot(reader, "tag-page")
            reader.get_by_role("link", name=author["name"]).click()
            expect(reader).to_have_url(f"{platform.url}/authors/ada-lovelace/")
            expect(reader.locator(".post-list")).to_contain_text("What the Engine does beyond arithmetic.")
            screenshot(reader, "author-page")
            reader.goto("/")
            expect(reader.locator(".post-list .meta")).to_contain_text(f"{VIEWS} views")
            expect(reader.locator(".post-list picture.thumbnail img")).to_be_visible()
            reader.get_by_role("searchbox").fill("arithmetic engine")
            reader.get_by_role("searchbox").press("Enter")
            expect(reader.locator(".search-results")).to_contain_text(TITLE)
            expect(reader.locator(".search-results mark").first).to_be_visible()
            screenshot(reader, "search-result")
        reader_context.close()

    # 5. A superuser flushes the views into the database and runs a one-off report of the author's today.
    admin_context = person_context(browser, platform)
    admin = admin_context.new_page()
    refused_by_policy = []
    admin.on(
        "console",
        lambda m: "Content Security Policy" in m.text and refused_by_policy.append({"url": admin.url, "text": m.text}),
    )
    admin.goto("/admin/")
    admin.get_by_label("Email address").fill(superuser["email"])
    admin.get_by_label("Password").fill(superuser["password"])
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()
    admin.get_by_role("link", name="Periodic tasks", exact=True).click()
    expect(admin.get_by_role("link", name="Send due view-count reports", exact=True)).to_be_visible()
    screenshot(admin, "admin-periodic-tasks")
    run_periodic_task(admin, "Flush view counts")
    reload_until(
        admin,
        platform,
        "/admin/publisher/post/",
        lambda p: p.locator("#result_list tbody tr").filter(has_text=TITLE).locator(f".field-views:text-is('{VIEWS}')"),
        f"{VIEWS} views of the post in the database",
    )
    # The post's stats: a chart drawn on the server (SVG), allowed by the policy, its numbers in tables.
    admin.goto("/admin/publisher/post/stats/")
    expect(admin.locator("svg.stats-chart rect.views")).to_have_count(30)
    expect(admin.locator("table.stats-posts tbody tr").filter(has_text=TITLE).locator("td").first).to_have_text(
        str(VIEWS)
    )
    assert not [m for m in refused_by_policy if "/stats/" in m["url"]], refused_by_policy
    screenshot(admin, "admin-stats")
    admin.goto("/admin/django_celery_beat/periodictask/")
    admin.get_by_role("link", name="Delete expired task results", exact=True).click()
    # The crontab in words, from a script file: the site's Content-Security-Policy refuses inline script.
    expect(admin.locator(".field-crontab .help")).to_contain_text("Translation: At 04:00")
    assert not [m for m in refused_by_policy if "/periodictask/" in m["url"]], refused_by_policy
    screenshot(admin, "admin-periodic-task-schedule")
    # The tick sends the author's report at their hour about yesterday; the post is today's: a one-off run,
    # disabled, of the command's task for the author's today.
    admin.goto("/admin/django_celery_beat/periodictask/add/")
    admin.get_by_label("Name").fill(ONE_OFF_REPORT)
    admin.get_by_label("Task (custom)").fill("publisher.reports.tasks.queue_view_count_reports")
    admin.get_by_label("Enabled").uncheck()
    admin.get_by_label("Interval Schedule").select_option(label="every 900 seconds")
    admin.locator("summary", has_text="Arguments").click()  # a collapsed fieldset
    admin.get_by_label("Keyword Arguments").fill(json.dumps({"report_date": today.isoformat()}))
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")
    run_periodic_task(admin, ONE_OFF_REPORT)

    # 6. The author reads the report: the post, with the right numbers.
    open_email(
        page,
        platform,
        to=author["email"],
        subject=f"Your posts on {dateformat.format(today, 'l, j F')}",
        inbox_screenshot="inbox-with-report",
    )
    text = page.locator("pre.email-text")
    expect(text).to_contain_text(TITLE)
    expect(text).to_contain_text(
        f"Views this day: {VIEWS} · Change from the day before: +{VIEWS} · Total views: {VIEWS}"
    )
    expect(text).to_contain_text(f"Days are yours, in {author_zone}.")
    html_row = page.frame_locator("iframe.email-html").locator("tbody > tr").filter(has_text=TITLE)
    expect(html_row.locator(":scope > td")).to_have_text([TITLE, str(VIEWS), f"+{VIEWS}", str(VIEWS), ""])
    expect(html_row.locator("table.bars td").last).to_have_attribute("title", f"{today:%a %-d %b}: {VIEWS} views")
    expect(html_row.locator("table.bars")).to_have_attribute(
        "aria-label", re.compile(f"{today:%a %-d %b}: {VIEWS} views")
    )
    screenshot(page, "report-email")

    # 7. The run, with its summary, in the admin's task results.
    admin.goto("/admin/")
    admin.get_by_role("link", name="Task results").click()
    reload_until(
        admin,
        platform,
        f"/admin/django_celery_results/taskresult/?q={today.isoformat()}",
        lambda p: (
            p.locator("#result_list tbody tr")
            .filter(has=p.locator(".field-periodic_task_name", has_text=ONE_OFF_REPORT))
            .filter(has=p.locator(".field-status", has_text="SUCCESS"))
        ),
        "the report run's stored result",
    ).get_by_role("link").first.click()
    expect(admin.locator(".field-task_name .readonly")).to_have_text("publisher.reports.tasks.queue_view_count_reports")
    result = admin.locator(".field-result .readonly")
    for part in (f'"periods": ["daily {today.isoformat()}"]', '"authors": 1', '"queued": 1'):
        expect(result).to_contain_text(part)
    screenshot(admin, "admin-task-result")
    admin_context.close()

    # 7b. Flower, the Celery dashboard `make run` starts beside the site: the platform's worker and the tasks it ran.
    flower_context = browser.new_context(base_url=platform.flower_url, viewport={"width": 1280, "height": 800})
    flower = flower_context.new_page()
    assert listening_addresses(platform.flower_port) == {"0100007F"}, "Flower must listen on 127.0.0.1 only"
    flower.goto("/")
    expect(flower).to_have_title(re.compile("Flower"))
    expect(flower.locator("body")).to_contain_text(f"celery@{socket.gethostname()}")
    screenshot(flower, "flower")
    flower.goto("/tasks")
    expect(flower.locator("body")).to_contain_text(
        "publisher.reports.tasks.queue_view_count_reports", timeout=WAIT_TIMEOUT * 1000
    )
    screenshot(flower, "flower-tasks")
    flower_context.close()

    # 8. The report's unsubscribe link turns reports off, as the report settings page shows; the time zone the
    # reports' days are in stays on the account page.
    page.locator("pre.email-text a[href*='/reports/unsubscribe/']").click()
    expect(page.get_by_role("heading", name="Turn off view-count reports?")).to_be_visible()
    screenshot(page, "unsubscribe")
    page.get_by_role("button", name="Turn off reports").click()
    expect(page).to_have_url(f"{platform.url}/reports/settings/")
    expect(page.locator(".messages")).to_contain_text("View-count reports are turned off")
    expect(page.get_by_label("Email me a report of my posts' views")).to_have_value("off")
    expect(page.locator("p.meta")).to_contain_text(author_zone)
    screenshot(page, "report-settings")
    page.get_by_role("link", name="change your time zone").click()
    expect(page).to_have_url(f"{platform.url}/account/")
    expect(page.get_by_label("Time zone")).to_have_value(author_zone)
    screenshot(page, "account")
    author_context.close()


# --- A report run, watched as it goes -------------------------------------------------------------------

RUN_OUTPUT = OUTPUT / "report-run-progress"
RUN_AUTHORS = 4
DUE_AUTHORS = f"""
from datetime import timedelta

from django.utils import timezone

from publisher.models import ReportPreferences
from tests.factories import AuthorFactory, PostFactory

authors = AuthorFactory.create_batch({RUN_AUTHORS}, password=None)
for author in authors:
    PostFactory(author=author, published_at=timezone.now() - timedelta(days=30))
now = timezone.now()  # due a minute ago, never before the top of the hour (where 7:00 would be due as well)
due = max(now - timedelta(minutes=1), now.replace(minute=0, second=0, microsecond=0))
ReportPreferences.objects.filter(pk__in=[author.pk for author in authors]).update(next_report_at=due)
"""


@pytest.fixture
def slow_mail():
    """The platform's SMTP server, in the test: it records each message, and holds each sender at its recipient
    until the test lets it go (the report run's pace is the test's). Started before the platform, on its port."""
    return FaultySMTPServer(FaultySMTPHandler(), free_port())


@pytest.fixture
def platform_with_slow_mail(slow_mail):
    """The platform without its local inbox and Flower: its mail goes to `slow_mail`. A held sender may wait a while
    (a browser's round trip and a screenshot): EMAIL_TIMEOUT gives it a minute, as Gate.hold does."""
    slow_mail.start()
    try:
        with running_platform(RUN_OUTPUT, processes=("web", "worker", "beat"), EMAIL_TIMEOUT="60") as running:
            running.smtp_port = slow_mail.port
            running.env.update(EMAIL_PORT=str(slow_mail.port), SMTP_PORT=str(slow_mail.port))
            running.start()
            yield running
    finally:
        slow_mail.open_all_gates()
        slow_mail.stop()


def test_an_operator_watches_a_report_runs_bar_move_to_finished_while_the_worker_sends(
    browser, platform_with_slow_mail, slow_mail
):
    """The report runs page (superusers) follows a run without a reload: report_run_progress.js polls the run's JSON
    every 2 s. The SMTP server lets the worker's reports through one at a time, and the bar shows each step: from
    nothing sent to finished, a screenshot of each."""
    platform = platform_with_slow_mail
    expect.set_options(timeout=15_000)
    superuser = make_superuser(platform)
    platform.manage("shell", "-c", DUE_AUTHORS)
    gates = [slow_mail.hold_at_recipient(number) for number in range(1, RUN_AUTHORS + 1)]

    context = person_context(browser, platform)
    admin = context.new_page()
    polls = []
    admin.on("request", lambda request: "/progress.json" in request.url and polls.append(time.monotonic()))
    admin.goto("/admin/")
    admin.get_by_label("Email address").fill(superuser["email"])
    admin.get_by_label("Password").fill(superuser["password"])
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()
    run_periodic_task(admin, "Send due view-count reports")

    # The tick recorded the run and the worker took its deliveries: it waits at the first recipient.
    gates[0].wait_reached(timeout=WAIT_TIMEOUT)
    admin.goto("/admin/publisher/reportrun/")
    expect(admin.get_by_role("heading", name=re.compile("report run", re.I)).first).to_be_visible()
    admin.evaluate("window.notReloaded = true")
    row = admin.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    bar, text = row.locator(".report-run-progress progress"), row.locator(".report-run-progress-text")

    seen = []
    for sent in range(RUN_AUTHORS + 1):
        # The bar moves by itself (no reload): the worker's reports so far, every one of them sent.
        expect(text).to_have_text(f"{sent} of {RUN_AUTHORS} done ({sent} sent, 0 failed, 0 skipped)")
        # The row's own counts say the same as its bar.
        for column, count in (("sent", sent), ("failed", 0), ("skipped", 0)):
            expect(row.locator(f"td.field-{column}")).to_have_text(str(count))
        seen.append(bar.evaluate("progress => [progress.value, progress.max]"))
        screenshot(admin, f"report-run-{sent}-of-{RUN_AUTHORS}", output=RUN_OUTPUT)
        platform.assert_running()
        if sent < RUN_AUTHORS:
            gates[sent].open()  # the next report goes through
            if sent + 1 < RUN_AUTHORS:
                gates[sent + 1].wait_reached(timeout=WAIT_TIMEOUT)

    assert seen == [[sent, RUN_AUTHORS] for sent in range(RUN_AUTHORS + 1)]
    assert admin.evaluate("window.notReloaded") is True
    assert len(polls) >= RUN_AUTHORS + 1
    assert len({message["To"] for message in slow_mail.messages}) == len(slow_mail.messages) == RUN_AUTHORS
    # Finished: the page stops asking (two intervals pass without a request).
    finished_polls = len(polls)
    admin.wait_for_timeout(4_500)
    assert len(polls) == finished_polls, "the page still polls a finished run"
    context.close()
