from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import User
from .tasks import queue_verification_email


class UserChangeFormByEmail(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class UserCreationFormByEmail(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeFormByEmail
    add_form = UserCreationFormByEmail
    ordering = ("-date_joined",)
    list_display = ("email", "full_name", "is_verified", "date_joined", "verification_sent_at", "is_staff")
    list_filter = ("is_verified", "is_staff", "is_active")
    search_fields = ("email", "full_name")
    readonly_fields = (
        "date_joined",
        "last_login",
        "verification_sent_at",
        "verified_at",
        "password_link",
        "slug",
    )
    # The password hash is never shown, not even masked: only a link to set a new one.
    fieldsets = (
        (None, {"fields": ("email", "full_name", "slug", "time_zone", "password_link")}),
        ("Verification", {"fields": ("is_verified", "verification_sent_at", "verified_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)
    actions = ["resend_verification_email", "mark_as_verified"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change:
                services.announce_account_change(user=obj, changed_fields=form.changed_data)

    @admin.display(description="Password")
    def password_link(self, user):
        url = reverse("admin:auth_user_password_change", args=[user.pk])
        return format_html('<a href="{}">Set a new password</a>', url)

    @admin.action(description="Resend verification email")
    def resend_verification_email(self, request, queryset):
        user_ids = list(queryset.filter(is_verified=False, is_active=True).values_list("pk", flat=True))
        for user_id in user_ids:
            queue_verification_email(user_id, resend=True)
        self.message_user(request, f"Queued {len(user_ids)} verification email(s).", messages.SUCCESS)

    @admin.action(description="Mark as verified")
    def mark_as_verified(self, request, queryset):
        count = services.mark_verified(users=queryset)
        self.message_user(request, f"Verified {count} user(s).", messages.SUCCESS)
