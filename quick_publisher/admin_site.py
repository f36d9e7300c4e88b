"""The admin site: Django's, with two holes closed.

- Its login page checks passwords, so it is rate limited like /login/, in the same budget.
- "View on site" (/admin/r/<type>/<id>/) redirects only to objects the visitor may see in the admin: Django's
  own answers any staff member, and the address of someone else's draft gives its title away.
"""

from operator import attrgetter

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path
from django.utils.decorators import method_decorator

from .ratelimits import limit_login_attempts


class QuickPublisherAdminSite(admin.AdminSite):
    @method_decorator(limit_login_attempts)
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)

    def get_urls(self):
        # First, so that it answers instead of Django's view of the same name and address.
        view_on_site = path(
            "r/<path:content_type_id>/<path:object_id>/",
            self.admin_view(self.view_on_site, cacheable=False),
            name="view_on_site",
        )
        return [view_on_site, *super().get_urls()]

    def view_on_site(self, request, content_type_id, object_id):
        try:
            model = ContentType.objects.get_for_id(content_type_id).model_class()
            if model is None:  # a content type whose model is gone
                raise Http404("No such object.")
            model_admin = self.get_model_admin(model)
        except (ContentType.DoesNotExist, ValueError, NotRegistered):
            raise Http404("No such object.") from None
        obj = model_admin.get_object(request, unquote(object_id))
        if obj is None or not model_admin.has_view_or_change_permission(request, obj):
            raise Http404("No such object.")
        return contenttype_views.shortcut(request, content_type_id, object_id)


class SuperusersOnly:
    """For a model admin that shows every author's rows (report runs, preferences): superusers only."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


class OwnRowsOnly:
    """For a model admin whose rows each belong to an author (owner_path, the lookup from a row to its author): a
    superuser sees every row; anyone else only their own, and only with the model's view permission, whatever a
    group holds. Another author's row answers as a missing one does."""

    owner_path = "author"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(**{self.owner_path: request.user})

    def get_object(self, request, object_id, from_field=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # as for any model the user may not see, before saying whether the row exists
        row = super().get_object(request, object_id, from_field)
        if row is None:  # someone else's, or none at all: the same answer
            raise Http404(f"No such {self.opts.verbose_name}.")
        return row

    def has_view_permission(self, request, obj=None):
        if request.user.is_active and request.user.is_superuser:
            return True
        owner_id = attrgetter(f"{self.owner_path.replace('__', '.')}_id")
        return super().has_view_permission(request, obj) and (obj is None or owner_id(obj) == request.user.pk)
