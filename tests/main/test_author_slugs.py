"""Authors' public slugs: derived from the full name, never from the email address; a twin name gets a suffix, a
rename moves the slug, and the migration gives every existing user one."""

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

from main import slugs
from main.models import User
from tests.factories import PostFactory, UserFactory


@pytest.mark.django_db
def test_slugs_come_from_full_names_with_a_suffix_for_twins_and_never_from_the_email():
    ada = UserFactory(full_name="Ada Lovelace", email="ada.private@example.com")
    twin = UserFactory(full_name="ADA  lovelace", email="other@example.com")
    nameless = UserFactory(full_name="", email="nameless.person@example.com")
    symbols = UserFactory(full_name="***", email="symbols.person@example.com")
    accented = UserFactory(full_name="Zoë Ångström")
    assert (ada.slug, twin.slug) == ("ada-lovelace", "ada-lovelace-2")
    assert (nameless.slug, symbols.slug) == ("author", "author-2")  # neutral, nothing of the address
    assert accented.slug == "zoe-angstrom"
    assert User.objects.get(pk=ada.pk).slug == "ada-lovelace"  # saved, not only set


@pytest.mark.django_db
def test_a_rename_moves_the_slug_and_other_saves_keep_it():
    user = UserFactory(full_name="Grace Hopper")
    UserFactory(full_name="Grace Murray")
    user.time_zone = "Europe/Paris"
    user.save(update_fields=["time_zone"])
    user.full_name = "Grace Hopper"
    user.save()
    assert User.objects.get(pk=user.pk).slug == "grace-hopper"
    user.full_name = "Grace Murray"
    user.save(update_fields=["full_name"])  # as the account page saves it: the slug is saved with the name
    assert User.objects.get(pk=user.pk).slug == "grace-murray-2"


@pytest.mark.django_db
def test_the_account_page_renames_the_author_page(client):
    post = PostFactory(author__full_name="Old Name")
    client.force_login(post.author)
    assert client.get("/authors/old-name/").status_code == 200
    assert client.post("/account/", {"full_name": "New Name", "time_zone": "UTC"}).status_code == 302
    assert client.get("/authors/old-name/").status_code == 404
    assert client.get("/authors/new-name/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_users_slugs_from_their_names_in_order_of_joining():
    before, after = [("main", "0004_report_fields_moved_out")], [("main", "0005_user_slug")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    OldUser = executor.loader.project_state(before).apps.get_model("main", "User")
    for email, name in [
        ("first@example.com", "Jo Smith"),
        ("second@example.com", "Jo Smith"),
        ("private.address@example.com", ""),
    ]:
        OldUser.objects.create(email=email, full_name=name)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    NewUser = executor.loader.project_state(after).apps.get_model("main", "User")
    assert dict(NewUser.objects.values_list("email", "slug")) == {
        "first@example.com": "jo-smith",
        "second@example.com": "jo-smith-2",
        "private.address@example.com": "author",
    }
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_a_slug_a_concurrent_twin_took_is_tried_again_with_the_next(monkeypatch):
    UserFactory(full_name="Ada")
    derived = []
    free_slug = slugs.free_slug

    def as_if_a_twin_had_not_committed_yet(full_name, taken):
        derived.append(free_slug(full_name, set() if not derived else taken))
        return derived[-1]

    monkeypatch.setattr(slugs, "free_slug", as_if_a_twin_had_not_committed_yet)
    twin = UserFactory(full_name="Ada", email="twin@example.com")
    assert derived == ["ada", "ada-2"]
    assert User.objects.get(pk=twin.pk).slug == "ada-2"


@pytest.mark.django_db
def test_another_constraint_is_not_retried_as_a_slug_would_be():
    UserFactory(email="taken@example.com", full_name="First")
    with pytest.raises(IntegrityError) as error:
        User.objects.create_user(email="taken@example.com", full_name="Second")
    assert "free slug" not in str(error.value)  # the email's own error, raised at once
