"""Report deliveries and daily post views in the admin: a superuser sees every row; anyone else only their own,
read-only, even when given the model's view permission outright (so that the Authors group lacking it is not what
protects them). Another author's row is a 404 through every URL, and never its data."""

import pytest
from django.contrib.auth.models import Permission

from main.models import User
from publisher.models import DailyPostViews, ReportDelivery
from tests.factories import AuthorFactory, PostFactory

pytestmark = pytest.mark.django_db

SMTP_ERROR = "SMTPConnectError: mail.internal.example:587 refused"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rows():
    alpha = AuthorFactory(email="alpha@example.com", full_name="Alpha Writer")
    bravo = AuthorFactory(email="bravo@example.com", full_name="Bravo Writer")
    views = Permission.objects.filter(
        content_type__app_label="publisher", codename__in=["view_reportdelivery", "view_dailypostviews"]
    )
    for author in (alpha, bravo):
        author.user_permissions.add(*views)
    alpha_post = PostFactory(author=alpha, title="Alpha post")
    bravo_post = PostFactory(author=bravo, title="Bravo post")
    return {
        "alpha": alpha,
        "reportdelivery": {
            "own": ReportDelivery.objects.create(
                author=alpha, period_start="2024-01-01", status="failed", error=SMTP_ERROR
            ),
            "other": ReportDelivery.objects.create(author=bravo, period_start="2024-02-02", status="sent"),
            "other's data": "bravo@example.com",
        },
        "dailypostviews": {
            "own": DailyPostViews.objects.create(post=alpha_post, date="2024-01-01", views=5),
            "other": DailyPostViews.objects.create(post=bravo_post, date="2024-02-02", views=7),
            "other's data": "Bravo post",
        },
    }


MODELS = ["reportdelivery", "dailypostviews"]


def listed(client, url):
    response = client.get(url)
    if response.status_code == 302:  # a filter the list does not offer: the list without it, flagged
        return set(), ""
    assert response.status_code == 200, url
    return set(response.context["cl"].result_list), response.content.decode()


def superuser():
    return User.objects.create_superuser(email="root@example.com", password="x", full_name="Root")


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_sees_every_row_and_an_author_with_the_view_permission_only_their_own(client, rows, model):
    own, other, others_data = rows[model]["own"], rows[model]["other"], rows[model]["other's data"]
    base = f"/admin/publisher/{model}/"
    client.force_login(superuser())
    assert listed(client, base)[0] == {own, other}
    for row in (own, other):
        assert client.get(f"{base}{row.pk}/change/").status_code == 200

    client.force_login(rows["alpha"])
    assert listed(client, base)[0] == {own}
    related = (
        f"author__id__exact={other.author_id}" if model == "reportdelivery" else f"post__id__exact={other.post_id}"
    )
    for query in ("?q=bravo", f"?{related}"):
        shown, page = listed(client, base + query)
        assert shown <= {own} and others_data not in page, query
    for page in ("change", "history", "delete"):
        response = client.get(f"{base}{other.pk}/{page}/")
        assert response.status_code == 404 and others_data not in response.content.decode(), page
    assert client.get(f"{base}{own.pk}/change/").status_code == 200  # to read
    assert client.post(f"{base}{own.pk}/delete/", {"post": "yes"}).status_code == 403  # not to delete
    assert type(own).objects.filter(pk=own.pk).exists()


def test_only_a_superuser_sees_how_a_report_failed_and_may_retry_it(client, rows):
    """The error names mail servers; retrying is an operator's decision."""
    own = rows["reportdelivery"]["own"]
    change, changelist = f"/admin/publisher/reportdelivery/{own.pk}/change/", "/admin/publisher/reportdelivery/"
    client.force_login(rows["alpha"])
    assert "mail.internal.example" not in client.get(change).content.decode()
    page = client.get(changelist).content.decode()
    assert "retry_failed_deliveries" not in page and "mail.internal.example" not in page
    client.force_login(superuser())
    assert "mail.internal.example" in client.get(change).content.decode()
    assert "retry_failed_deliveries" in client.get(changelist).content.decode()
