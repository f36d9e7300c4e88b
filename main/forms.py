from django import forms
from django.conf import settings
from django.contrib.auth.forms import BaseUserCreationForm, PasswordResetForm

from quick_publisher import time_zones
from quick_publisher.queueing import queue_after_commit

from .models import User
from .selectors import user_by_email


class FullNameOnOneLine:
    """A name is shown in headers and lists: no CR/LF or tabs, runs of spaces as one."""

    def clean_full_name(self):
        return " ".join(self.cleaned_data["full_name"].split())


class SignupForm(FullNameOnOneLine, BaseUserCreationForm):
    # Filled by static/main/time_zone.js from the browser; anything else (no script, an unknown zone) is TIME_ZONE.
    time_zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    class Meta:
        model = User
        fields = ("email", "full_name")
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})}

    def clean_time_zone(self):
        name = self.cleaned_data.get("time_zone")
        return name if time_zones.is_time_zone(name) else settings.TIME_ZONE

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if user_by_email(email):
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(max_length=254)


class AccountForm(FullNameOnOneLine, forms.ModelForm):
    class Meta:
        model = User
        fields = ("full_name", "time_zone")
        # Searchable over every IANA zone through the page's <datalist id="time-zones">: "Kolk" finds Asia/Kolkata.
        widgets = {"time_zone": forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"})}


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's form, but the email is built from SITE_URL and sent by a Celery worker."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        from .tasks import send_password_reset_email

        queue_after_commit(send_password_reset_email, context["user"].pk)
