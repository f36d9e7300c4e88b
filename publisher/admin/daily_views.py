from django.contrib import admin

from ..models import DailyPostViews


@admin.register(DailyPostViews)
class DailyPostViewsAdmin(admin.ModelAdmin):
    list_display = ("post", "date", "views")
    list_filter = ("date",)
    list_select_related = ("post",)
    readonly_fields = ("post", "date", "views")
