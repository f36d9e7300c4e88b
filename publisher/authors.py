"""Authors: verified users, who are staff and in the Authors group."""

from django.contrib.auth.models import Group, Permission

AUTHORS_GROUP = "Authors"


def ensure_authors_group():
    """The Authors group: add, change, delete and view posts, nothing else."""
    group, _ = Group.objects.get_or_create(name=AUTHORS_GROUP)
    permissions = Permission.objects.filter(
        content_type__app_label="publisher",
        codename__in=["add_post", "change_post", "delete_post", "view_post"],
    )
    group.permissions.set(permissions)
    return group


def make_author(user):
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(ensure_authors_group())
