from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_safe
from django.views.generic import FormView, UpdateView
from django_ratelimit.decorators import ratelimit

from quick_publisher.ratelimits import address_key, limit_login_attempts, posted_email
from quick_publisher.time_zones import available_time_zones

from . import health, services
from . import inbox as dev_inbox
from .forms import AccountForm, QueuedPasswordResetForm, ResendVerificationForm, SignupForm
from .models import User
from .selectors import user_by_email
from .tasks import queue_verification_email

AUTHOR_LANDING_URL = reverse_lazy("admin:publisher_post_add")


def rate_limited(request, exception):
    return render(request, "main/rate_limited.html", status=429)


@require_safe
def healthz(request):
    """Public: which checks failed ("fail"), never why (no exception text, host or port); the log says why."""
    failed = health.failed_checks()
    answer = {name: "fail" if name in failed else "ok" for name, _ in health.CHECKS}
    if failed:
        return JsonResponse({"status": "unavailable", **answer, "failed": failed}, status=503)
    return JsonResponse({"status": "ok", **answer})


@method_decorator(ratelimit(key=address_key, rate=settings.SIGNUP_RATE_LIMIT, method="POST"), name="post")
class SignupView(FormView):
    template_name = "main/signup.html"
    form_class = SignupForm
    success_url = reverse_lazy("signup_done")

    def form_valid(self, form):
        try:
            user = services.register_user(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                time_zone=form.cleaned_data["time_zone"],
            )
        except services.EmailAlreadyRegistered:
            form.add_error("email", "An account with this email address already exists.")
            return self.form_invalid(form)
        login(self.request, user, backend="main.user_cache.UserCacheBackend")
        return super().form_valid(form)


@require_safe
def signup_done(request):
    return render(request, "main/signup_done.html")


@require_http_methods(["GET", "POST"])
def verify(request, token):
    user = User.objects.filter(verification_uuid=token).first()
    if user is None:
        owner = User.objects.filter(used_verification_uuid=token).first()
        if owner is not None and request.user == owner:
            return render(request, "main/verify_already.html")
        raise Http404("Unknown verification link.")
    if services.verification_link_expired(user):
        form = ResendVerificationForm(initial={"email": user.email})
        return render(request, "main/verify_expired.html", {"form": form}, status=410)
    if request.method == "POST":
        verified = services.verify_user(token=token)
        if verified is None:
            raise Http404("Unknown verification link.")
        messages.success(request, "Your email address is verified. Welcome, author!")
        if request.user == verified:
            return redirect(AUTHOR_LANDING_URL)
        return redirect(f"{reverse('login')}?next={AUTHOR_LANDING_URL}")
    return render(request, "main/verify_confirm.html", {"verify_user": user})


@method_decorator(ratelimit(key=address_key, rate=settings.RESEND_RATE_LIMIT, method="POST"), name="post")
@method_decorator(ratelimit(key=posted_email, rate=settings.RESEND_RATE_LIMIT, method="POST"), name="post")
class ResendVerificationView(FormView):
    template_name = "main/verify_resend.html"
    form_class = ResendVerificationForm

    def get_initial(self):
        if self.request.user.is_authenticated:
            return {"email": self.request.user.email}
        return {}

    def form_valid(self, form):
        user = user_by_email(form.cleaned_data["email"])
        if user is not None and user.is_active and not user.is_verified:
            queue_verification_email(user.pk, resend=True)
        # The same answer whether or not the address has an account.
        return render(self.request, "main/verify_resend_done.html", {"email": form.cleaned_data["email"]})


class AccountView(LoginRequiredMixin, UpdateView):
    template_name = "main/account.html"
    form_class = AccountForm
    success_url = reverse_lazy("account")

    def get_object(self, queryset=None):
        return self.request.user

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "time_zones": sorted(available_time_zones())}

    def form_valid(self, form):
        services.save_account(user=form.instance, changed_fields=form.changed_data)
        messages.success(self.request, "Your settings are saved.")
        return redirect(self.success_url)


@method_decorator(limit_login_attempts, name="post")
class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


@method_decorator(ratelimit(key=address_key, rate=settings.RESEND_RATE_LIMIT, method="POST"), name="post")
@method_decorator(ratelimit(key=posted_email, rate=settings.RESEND_RATE_LIMIT, method="POST"), name="post")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = QueuedPasswordResetForm


# --- The local inbox (DEBUG only; see urls.py) ------------------------------------------------------


@require_GET
def inbox(request):
    return render(request, "main/inbox.html", {"messages_list": dev_inbox.list_messages()})


@require_GET
def inbox_message(request, key):
    message = dev_inbox.get_message(key)
    if message is None:
        raise Http404("No such message.")
    return render(request, "main/inbox_message.html", {"message": message})


@require_GET
@xframe_options_sameorigin
def inbox_message_html(request, key):
    message = dev_inbox.get_message(key)
    if message is None or not message["html"]:
        raise Http404("No HTML part.")
    # Links open in the whole window: our own pages refuse to be framed.
    response = HttpResponse('<base target="_top">' + message["html"])
    # Shown in a sandboxed frame: the email's links work, nothing in it can run.
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; frame-ancestors 'self'"
    )
    return response
