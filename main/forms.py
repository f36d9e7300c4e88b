from django import forms
from django.conf import settings
from django.contrib.auth.forms import BaseUserCreationForm, PasswordResetForm

from quick_publisher import report_times
from quick_publisher.queueing import queue_after_commit

from .models import User
from .selectors import user_by_email


class SignupForm(BaseUserCreationForm):
    # Filled by static/main/time_zone.js from the browser; anything else (no script, an unknown zone) is TIME_ZONE.
    report_time_zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    class Meta:
        model = User
        fields = ("email", "full_name")
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})}

    def clean_report_time_zone(self):
        name = self.cleaned_data.get("report_time_zone")
        return name if report_times.is_time_zone(name) else settings.TIME_ZONE

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if user_by_email(email):
            raise forms.ValidationError("An account with this email address already exists.")
        return email

    def clean_full_name(self):
        return " ".join(self.cleaned_data["full_name"].split())  # no CR/LF or tabs in names


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(max_length=254)


class AccountForm(forms.ModelForm):
    report_hour = forms.TypedChoiceField(
        label="Report hour",
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        help_text="In your time zone.",
    )

    class Meta:
        model = User
        fields = ("full_name", "report_frequency", "report_time_zone", "report_hour")
        labels = {"report_frequency": "Email me a report of my posts' views"}
        help_texts = {"report_frequency": "You can also turn reports off from any report."}
        # Searchable over every IANA zone through the page's <datalist id="time-zones">: "Kolk" finds Asia/Kolkata.
        widgets = {"report_time_zone": forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"})}

    def clean_full_name(self):
        return " ".join(self.cleaned_data["full_name"].split())


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's form, but the email is built from SITE_URL and sent by a Celery worker."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        from .tasks import send_password_reset_email

        queue_after_commit(send_password_reset_email, context["user"].pk)
