"""Who may see and change what: every role against every admin and public URL that touches posts, users,
report deliveries, report preferences, task results and schedules.

Authors see and change only their own posts, and nothing of users, others' report preferences, schedules or task
results. Another author's
post is a 404 (or 403) through every URL, never their data. Drafts are never public, not even to their author.
"""

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from main.models import User
from publisher.authors import make_author
from publisher.models import DailyPostViews, Post, ReportDelivery, ReportPreferences
from tests.factories import AuthorFactory, DraftFactory, PostFactory, UserFactory
from tests.support.admin_forms import NO_BODY_IMAGES

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
UNVERIFIED = "unverified"
UNVERIFIED_STAFF = "unverified, made staff by an admin"
UNVERIFIED_AUTHOR = "unverified, made staff and author by an admin"
AUTHOR_A = "author A"
AUTHOR_B = "author B"
SUPERUSER = "superuser"
ROLES = [ANONYMOUS, UNVERIFIED, UNVERIFIED_STAFF, UNVERIFIED_AUTHOR, AUTHOR_A, AUTHOR_B, SUPERUSER]

B_SECRET = "B's unpublished secret"  # in the title and content of B's draft: must never reach anyone else


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world():
    unverified_author = UserFactory(email="unverified-author@example.com", is_staff=True)
    make_author(unverified_author)
    users = {
        ANONYMOUS: None,
        UNVERIFIED: UserFactory(email="unverified@example.com"),
        UNVERIFIED_STAFF: UserFactory(email="unverified-staff@example.com", is_staff=True),
        UNVERIFIED_AUTHOR: unverified_author,
        AUTHOR_A: AuthorFactory(email="a@example.com", full_name="Author A"),
        # B's report preferences differ from everyone else's (the defaults), so that a page showing them is seen.
        AUTHOR_B: AuthorFactory(
            email="b@example.com", full_name="Author B", reports__frequency="weekly", reports__hour=17
        ),
        SUPERUSER: User.objects.create_superuser(email="root@example.com", password="x", full_name="Root"),
    }
    b = users[AUTHOR_B]
    post_b = PostFactory(author=b, title="B's published post", slug="b-published")
    draft_b = DraftFactory(author=b, title=B_SECRET, slug="b-secret-draft", content=f"{B_SECRET} content")
    return {
        "users": users,
        "post_a": PostFactory(author=users[AUTHOR_A], title="A's published post", slug="a-published"),
        "draft_a": DraftFactory(author=users[AUTHOR_A], title="A's draft", slug="a-draft"),
        "post_b": post_b,
        "draft_b": draft_b,
        "delivery": ReportDelivery.objects.create(author=b, period_start="2024-01-01", status="sent"),
        "daily_views": DailyPostViews.objects.create(post=post_b, date="2024-01-01", views=7),
        # Days in the stats' range, so that the stats page and its CSV would show the draft's title to the wrong user.
        "draft_daily_views": DailyPostViews.objects.create(post=draft_b, date=timezone.localdate(), views=3),
        "task_result": TaskResult.objects.create(
            task_id="secret-task",
            task_name="publisher.tasks.send_view_count_reports_to_authors",
            status="SUCCESS",
            result='{"sent_to": ["b@example.com"]}',
        ),
        "periodic_task": PeriodicTask.objects.order_by("pk").first(),
        "interval": IntervalSchedule.objects.order_by("pk").first(),
        "authors_group": Group.objects.get(name="Authors"),
        "post_type": ContentType.objects.get_for_model(Post).pk,
    }


def client_for(client, world, role):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return client


# --- The matrix ----------------------------------------------------------------------------------------

# What each kind of URL answers to each role. "hidden": 404 or 403, and none of the object's data.
OK, LOGIN, FORBIDDEN, HIDDEN = "200", "redirect to the admin login", "403", "404 or 403"
STAFF_WITHOUT_POSTS = {ANONYMOUS: LOGIN, UNVERIFIED: LOGIN, UNVERIFIED_STAFF: FORBIDDEN}
POST_PAGES = {**STAFF_WITHOUT_POSTS, UNVERIFIED_AUTHOR: OK, AUTHOR_A: OK, AUTHOR_B: OK, SUPERUSER: OK}
B_POST_PAGES = {
    **STAFF_WITHOUT_POSTS,
    UNVERIFIED_STAFF: HIDDEN,
    UNVERIFIED_AUTHOR: HIDDEN,
    AUTHOR_A: HIDDEN,
    AUTHOR_B: OK,
    SUPERUSER: OK,
}
SUPERUSER_ONLY = {
    **STAFF_WITHOUT_POSTS,
    UNVERIFIED_AUTHOR: FORBIDDEN,
    AUTHOR_A: FORBIDDEN,
    AUTHOR_B: FORBIDDEN,
    SUPERUSER: OK,
}
VIEW_ON_SITE = {**B_POST_PAGES, AUTHOR_B: "302", SUPERUSER: "302"}


def admin_urls(w):
    post, draft = w["post_b"], w["draft_b"]
    return {
        # Posts
        "/admin/publisher/post/": POST_PAGES,
        "/admin/publisher/post/add/": POST_PAGES,
        "/admin/publisher/post/stats/": POST_PAGES,
        "/admin/publisher/post/stats.csv": POST_PAGES,
        **{
            f"/admin/publisher/post/{p.pk}/{page}/": B_POST_PAGES
            for p in (post, draft)
            for page in ("change", "delete", "history", "preview")
        },
        f"/admin/r/{w['post_type']}/{draft.pk}/": VIEW_ON_SITE,
        f"/admin/r/{w['post_type']}/{post.pk}/": VIEW_ON_SITE,
        # Would list every user's address: only for those who may see users.
        "/admin/autocomplete/?app_label=publisher&model_name=post&field_name=author": SUPERUSER_ONLY,
        # Users and groups
        "/admin/main/user/": SUPERUSER_ONLY,
        "/admin/main/user/add/": SUPERUSER_ONLY,
        **{
            f"/admin/main/user/{w['users'][AUTHOR_B].pk}/{page}/": SUPERUSER_ONLY
            for page in ("change", "delete", "history", "password")
        },
        "/admin/auth/group/": SUPERUSER_ONLY,
        f"/admin/auth/group/{w['authors_group'].pk}/change/": SUPERUSER_ONLY,
        # Reports and views
        "/admin/publisher/reportdelivery/": SUPERUSER_ONLY,
        "/admin/publisher/reportpreferences/": SUPERUSER_ONLY,
        **{
            f"/admin/publisher/reportpreferences/{w['users'][AUTHOR_B].pk}/{page}/": SUPERUSER_ONLY
            for page in ("change", "history")
        },
        f"/admin/publisher/reportdelivery/{w['delivery'].pk}/change/": SUPERUSER_ONLY,
        "/admin/publisher/dailypostviews/": SUPERUSER_ONLY,
        f"/admin/publisher/dailypostviews/{w['daily_views'].pk}/change/": SUPERUSER_ONLY,
        # Task results
        "/admin/django_celery_results/taskresult/": SUPERUSER_ONLY,
        f"/admin/django_celery_results/taskresult/{w['task_result'].pk}/change/": SUPERUSER_ONLY,
        "/admin/django_celery_results/groupresult/": SUPERUSER_ONLY,
        # Schedules
        "/admin/django_celery_beat/periodictask/": SUPERUSER_ONLY,
        "/admin/django_celery_beat/periodictask/add/": SUPERUSER_ONLY,
        f"/admin/django_celery_beat/periodictask/{w['periodic_task'].pk}/change/": SUPERUSER_ONLY,
        f"/admin/django_celery_beat/periodictask/{w['periodic_task'].pk}/delete/": SUPERUSER_ONLY,
        "/admin/django_celery_beat/intervalschedule/": SUPERUSER_ONLY,
        f"/admin/django_celery_beat/intervalschedule/{w['interval'].pk}/change/": SUPERUSER_ONLY,
        "/admin/django_celery_beat/crontabschedule/": SUPERUSER_ONLY,
        "/admin/django_celery_beat/clockedschedule/": SUPERUSER_ONLY,
        "/admin/django_celery_beat/solarschedule/": SUPERUSER_ONLY,
    }


def outcome_of(response):
    if response.status_code == 302 and response.url.startswith("/admin/login/"):
        return LOGIN
    if response.status_code in {403, 404}:
        return HIDDEN if response.status_code == 404 else FORBIDDEN
    return str(response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_admin_matrix(client, world, role):
    client = client_for(client, world, role)
    wrong = []
    for url, expected_by_role in admin_urls(world).items():
        expected = expected_by_role[role]
        response = client.get(url)
        outcome = outcome_of(response)
        if expected == HIDDEN:
            fine = outcome in {HIDDEN, FORBIDDEN}
        else:
            fine = outcome == expected
        if not fine:
            wrong.append(f"{url}: expected {expected}, got {outcome}")
        if role not in {AUTHOR_B, SUPERUSER}:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert B_SECRET.encode() not in body, url
            if response.status_code == 302:
                assert "secret" not in response.url, (url, response.url)
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", [UNVERIFIED_AUTHOR, AUTHOR_A, AUTHOR_B, SUPERUSER])
def test_the_changelist_shows_only_what_the_role_may_see(client, world, role):
    client = client_for(client, world, role)
    b = world["users"][AUTHOR_B]
    b_email = b.email
    for query in (
        "",
        f"?q={B_SECRET}",
        "?q=B",
        "?status__exact=draft",
        f"?author__id__exact={b.pk}",
        "?published_at__year=2000",
        f"?author={b.pk}",
    ):
        response = client.get(f"/admin/publisher/post/{query}")
        assert response.status_code in {200, 302, 400}, (query, response.status_code)
        page = response.content.decode()
        if role in {AUTHOR_B, SUPERUSER}:
            continue
        assert B_SECRET not in page and "B&#x27;s published post" not in page and b_email not in page, query
    if role == AUTHOR_A:
        assert "A&#x27;s draft" in client.get("/admin/publisher/post/").content.decode()
    index = client.get("/admin/").content.decode()
    for model in (
        "Users",
        "Groups",
        "Periodic tasks",
        "Task results",
        "Report deliveries",
        "Report preferences",
        "Daily post views",
    ):
        assert (model in index) == (role == SUPERUSER), (model, role)


@pytest.mark.parametrize("role", ROLES)
def test_drafts_are_never_public_whoever_asks(client, world, role):
    client = client_for(client, world, role)
    for draft in (world["draft_a"], world["draft_b"]):
        assert client.get(f"/{draft.slug}/").status_code == 404
        assert client.head(f"/{draft.slug}/").status_code == 404
    for path in ("/", "/feed/", "/sitemap.xml"):
        page = client.get(path).content.decode()
        assert "b-secret-draft" not in page and B_SECRET.replace("'", "&#x27;") not in page, path
        assert "a-draft" not in page and "A&#x27;s draft" not in page, path
        assert "b-published" in page and "a-published" in page, path
    assert client.get(f"/{world['post_b'].slug}/").status_code == 200


# --- Writes --------------------------------------------------------------------------------------------


def snapshot(*posts):
    return {p.pk: Post.objects.filter(pk=p.pk).values().first() for p in posts}


def test_an_author_cannot_change_or_delete_another_authors_post_by_a_crafted_post(client, world):
    client = client_for(client, world, AUTHOR_A)
    post_b, draft_b = world["post_b"], world["draft_b"]
    before = snapshot(post_b, draft_b)
    for post in (post_b, draft_b):
        form = {"title": "Taken over", "slug": post.slug, "content": "mine now", "status": "published"}
        assert client.post(f"/admin/publisher/post/{post.pk}/change/", form).status_code == 404
        assert client.post(f"/admin/publisher/post/{post.pk}/delete/", {"post": "yes"}).status_code == 404
    changelist = "/admin/publisher/post/"
    ids = [post_b.pk, draft_b.pk]
    for action in ("publish", "unpublish", "delete_selected"):
        client.post(changelist, {"action": action, "_selected_action": ids, "post": "yes"})
    assert snapshot(post_b, draft_b) == before


def test_a_crafted_author_field_cannot_reassign_a_post(client, world):
    a, b = world["users"][AUTHOR_A], world["users"][AUTHOR_B]
    client = client_for(client, world, AUTHOR_A)
    form = {
        "title": "Mine",
        "slug": "",
        "content": "x",
        "status": "draft",
        "author": b.pk,
        "view_count": 999,
        "published_at": "2000-01-01 00:00:00",
        **NO_BODY_IMAGES,
    }
    assert client.post("/admin/publisher/post/add/", form).status_code == 302
    created = Post.objects.get(title="Mine")
    assert created.author == a and created.view_count == 0 and created.published_at is None
    draft_a = world["draft_a"]
    response = client.post(f"/admin/publisher/post/{draft_a.pk}/change/", {**form, "title": "Still mine"})
    assert response.status_code == 302
    draft_a.refresh_from_db()
    assert draft_a.title == "Still mine" and draft_a.author == a and draft_a.view_count == 0


def test_a_superuser_may_reassign_a_post(client, world):
    client = client_for(client, world, SUPERUSER)
    draft_a, b = world["draft_a"], world["users"][AUTHOR_B]
    form = {"author": b.pk, "title": draft_a.title, "slug": draft_a.slug, "content": "x", "status": "draft"}
    form.update(NO_BODY_IMAGES)
    assert client.post(f"/admin/publisher/post/{draft_a.pk}/change/", form).status_code == 302
    draft_a.refresh_from_db()
    assert draft_a.author == b


@pytest.mark.parametrize("role", [UNVERIFIED_AUTHOR, AUTHOR_A])
def test_authors_cannot_write_users_groups_schedules_or_task_results(client, world, role):
    client = client_for(client, world, role)
    me, b = world["users"][role], world["users"][AUTHOR_B]
    attempts = {
        "/admin/main/user/add/": {
            "email": "new@example.com",
            "full_name": "N",
            "password1": "pw-Long-enough-1",
            "password2": "pw-Long-enough-1",
        },
        f"/admin/main/user/{me.pk}/change/": {
            "email": me.email,
            "full_name": "Me",
            "is_superuser": "on",
            "is_staff": "on",
            "is_active": "on",
            "is_verified": "on",
        },
        f"/admin/main/user/{b.pk}/password/": {"password1": "pw-Long-enough-1", "password2": "pw-Long-enough-1"},
        f"/admin/main/user/{b.pk}/delete/": {"post": "yes"},
        "/admin/main/user/": {"action": "mark_as_verified", "_selected_action": [me.pk]},
        f"/admin/auth/group/{world['authors_group'].pk}/change/": {"name": "Authors", "permissions": []},
        "/admin/django_celery_beat/periodictask/add/": {
            "name": "evil",
            "task": "main.tasks.send_verification_email",
            "interval": world["interval"].pk,
            "enabled": "on",
        },
        f"/admin/django_celery_beat/periodictask/{world['periodic_task'].pk}/delete/": {"post": "yes"},
        f"/admin/django_celery_results/taskresult/{world['task_result'].pk}/delete/": {"post": "yes"},
        f"/admin/publisher/reportdelivery/{world['delivery'].pk}/delete/": {"post": "yes"},
        f"/admin/publisher/reportpreferences/{b.pk}/change/": {"frequency": "off", "hour": "3"},
        "/admin/publisher/reportpreferences/": {"action": "send_latest_report_now", "_selected_action": [b.pk]},
    }
    b_preferences = ReportPreferences.objects.filter(pk=b.pk).values().get()
    periodic_tasks = PeriodicTask.objects.count()
    for url, data in attempts.items():
        assert client.post(url, data).status_code == 403, url
    me.refresh_from_db()
    assert not me.is_superuser and me.is_verified == (role == AUTHOR_A)
    assert User.objects.filter(pk=b.pk).exists() and not User.objects.filter(email="new@example.com").exists()
    assert b.check_password("a-long-test-password-42")
    assert world["authors_group"].permissions.count() == 4
    assert PeriodicTask.objects.count() == periodic_tasks
    assert TaskResult.objects.filter(pk=world["task_result"].pk).exists()
    assert ReportDelivery.objects.filter(pk=world["delivery"].pk).exists()
    assert ReportPreferences.objects.filter(pk=b.pk).values().get() == b_preferences
    assert ReportDelivery.objects.count() == 1  # the action queued no report


def test_unverified_authors_cannot_publish_by_form_action_or_change(client, world):
    user = world["users"][UNVERIFIED_AUTHOR]
    client = client_for(client, world, UNVERIFIED_AUTHOR)
    response = client.post(
        "/admin/publisher/post/add/", {"title": "Early", "slug": "", "content": "x", "status": "published"}
    )
    assert response.status_code == 200 and "verified email address" in response.content.decode()
    assert not Post.objects.filter(title="Early").exists()
    draft = DraftFactory(author=user, title="Mine, unverified")
    response = client.post(
        f"/admin/publisher/post/{draft.pk}/change/",
        {"title": draft.title, "slug": draft.slug, "content": "x", "status": "published"},
    )
    assert response.status_code == 200 and "verified email address" in response.content.decode()
    response = client.post("/admin/publisher/post/", {"action": "publish", "_selected_action": [draft.pk]}, follow=True)
    assert "Verify your email address" in response.content.decode()
    draft.refresh_from_db()
    assert not draft.is_published and draft.published_at is None
    assert client.get(f"/{draft.slug}/").status_code == 404


def test_unverified_staff_without_the_authors_group_cannot_write_a_post(client, world):
    client = client_for(client, world, UNVERIFIED_STAFF)
    response = client.post(
        "/admin/publisher/post/add/", {"title": "Nope", "slug": "", "content": "x", "status": "draft"}
    )
    assert response.status_code == 403
    assert not Post.objects.filter(title="Nope").exists()


@pytest.mark.parametrize("role", [ANONYMOUS, UNVERIFIED, AUTHOR_A])
def test_the_account_page_shows_only_the_visitors_own_data(client, world, role):
    client = client_for(client, world, role)
    response = client.get("/account/")
    if role == ANONYMOUS:
        assert response.status_code == 302 and response.url.startswith("/login/")
        return
    page = response.content.decode()
    assert world["users"][role].email in page
    assert world["users"][AUTHOR_B].email not in page


@pytest.mark.parametrize("role", [ANONYMOUS, UNVERIFIED, AUTHOR_A, AUTHOR_B])
def test_the_report_settings_page_shows_only_the_visitors_own_preferences(client, world, role):
    client = client_for(client, world, role)
    response = client.get("/reports/settings/")
    if role == ANONYMOUS:
        assert response.status_code == 302 and response.url.startswith("/login/")
        return
    me = world["users"][role]
    assert response.status_code == 200
    assert response.context["preferences"].pk == me.pk
    assert response.context["form"].instance.pk == me.pk
    page = response.content.decode()
    mine = ReportPreferences.objects.get(pk=me.pk)
    assert f'<option value="{mine.hour}" selected>' in page
    assert f'<option value="{mine.frequency}" selected>' in page
    if role != AUTHOR_B:  # B's weekly reports at 17:00 are nobody else's business
        assert '<option value="17" selected>' not in page and '<option value="weekly" selected>' not in page
    assert world["users"][AUTHOR_B].email not in page or role == AUTHOR_B
