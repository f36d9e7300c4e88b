from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .forms import ReportPreferencesForm
from .preferences import preferences_of, save_preferences, turn_off_reports
from .tokens import read_unsubscribe_token


@login_required
@require_http_methods(["GET", "POST"])
def report_settings(request):
    preferences = preferences_of(request.user)
    form = ReportPreferencesForm(request.POST or None, instance=preferences)
    if request.method == "POST" and form.is_valid():
        save_preferences(form.instance, changed_fields=form.changed_data)
        messages.success(request, "Your report settings are saved.")
        return redirect("report_settings")
    return render(request, "reports/settings.html", {"form": form, "preferences": preferences})


@csrf_exempt  # RFC 8058 one-click POSTs come from mail clients, with no session; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    user_id = read_unsubscribe_token(token)
    if user_id is None:
        return render(request, "reports/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        turn_off_reports(user_id=user_id)
        if request.user.is_authenticated and request.user.pk == user_id:
            messages.success(request, "View-count reports are turned off. You can turn them on again here.")
            return redirect("report_settings")
        return render(request, "reports/unsubscribe_done.html")
    return render(request, "reports/unsubscribe_confirm.html")
