from django import forms

from ..models import ReportPreferences


class ReportPreferencesForm(forms.ModelForm):
    hour = forms.TypedChoiceField(
        label="Report hour",
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        help_text="In your time zone.",
    )

    class Meta:
        model = ReportPreferences
        fields = ("frequency", "hour")
        help_texts = {"frequency": "You can also turn reports off from any report."}
