from django.contrib import admin

from quick_publisher.admin_site import OwnRowsOnly

from ..models import DailyPostViews


@admin.register(DailyPostViews)
class DailyPostViewsAdmin(OwnRowsOnly, admin.ModelAdmin):
    """Who sees which days, whatever permissions a group holds: a superuser every post's, anyone else only their
    own posts' and only with the model's view permission (no group has it). Nobody writes them: views are counted."""

    list_display = ("post", "date", "views")
    list_filter = ("date",)
    list_select_related = ("post",)
    readonly_fields = ("post", "date", "views")
    owner_path = "post__author"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
