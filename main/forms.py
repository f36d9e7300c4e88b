from django import forms
from django.contrib.auth.forms import BaseUserCreationForm, PasswordResetForm

from quick_publisher.queueing import queue_after_commit

from .models import User
from .selectors import user_by_email


class SignupForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})}

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
    class Meta:
        model = User
        fields = ("full_name", "receives_reports")
        labels = {"receives_reports": "Email me a daily report of my posts' views"}
        help_texts = {
            "receives_reports": "Sent every morning for the day before. You can also turn it off from any report."
        }

    def clean_full_name(self):
        return " ".join(self.cleaned_data["full_name"].split())


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's form, but the email is built from SITE_URL and sent by a Celery worker."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        from .tasks import send_password_reset_email

        queue_after_commit(send_password_reset_email, context["user"].pk)
