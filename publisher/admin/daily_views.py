from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from ..models import DailyPostViews


@admin.register(DailyPostViews)
class DailyPostViewsAdmin(admin.ModelAdmin):
    """Who sees which days, whatever permissions a group holds: a superuser every post's, anyone else only their
    own posts' and only with the model's view permission (no group has it). Nobody writes them: views are counted."""

    list_display = ("post", "date", "views")
    list_filter = ("date",)
    list_select_related = ("post",)
    readonly_fields = ("post", "date", "views")

    def get_queryset(self, request):
        days = super().get_queryset(request)
        return days if request.user.is_superuser else days.filter(post__author=request.user)

    def get_object(self, request, object_id, from_field=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # as for any model the user may not see, before saying whether the row exists
        day = super().get_object(request, object_id, from_field)
        if day is None:  # another author's post's, or none at all: the same answer
            raise Http404("No such day.")
        return day

    def has_view_permission(self, request, obj=None):
        if request.user.is_active and request.user.is_superuser:
            return True
        return super().has_view_permission(request, obj) and (obj is None or obj.post.author_id == request.user.pk)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
