"""The live preview beside the post form's Markdown editor: the text as the public page will show it, rendered on the
server by the same sanitizing renderer, as the author types (publisher/static/publisher/markdown_preview.js).

Rendering a preview reads nothing and writes nothing: no post, no view."""

from django import forms
from django.contrib.admin.widgets import AdminTextareaWidget
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_POST

from ..rendering import render_markdown

MAX_CHARACTERS = 200_000  # a long post is a few tens of thousands: the limit only bounds the server's work


class MarkdownEditor(AdminTextareaWidget):
    """The content's textarea, with the preview's script and where it asks for the preview."""

    class Media:
        js = ("publisher/markdown_preview.js",)
        css = {"all": ("publisher/markdown_preview.css",)}

    def __init__(self, attrs=None):
        preview_url = reverse_lazy("admin:publisher_post_markdown_preview")
        super().__init__(attrs={"data-markdown-preview-url": preview_url, **(attrs or {})})


class MarkdownPreviewForm(forms.Form):
    content = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_CHARACTERS,
        error_messages={
            "max_length": f"The text is too long to preview: at most {MAX_CHARACTERS} characters "
            "(it has %(show_value)s)."
        },
    )


class MarkdownPreview:
    """For PostAdmin: the preview's endpoint, for whoever may write posts."""

    def markdown_preview_urls(self):
        preview = self.admin_site.admin_view(require_POST(self.markdown_preview_view))  # staff, CSRF-checked
        return [path("markdown-preview/", preview, name="publisher_post_markdown_preview")]

    def markdown_preview_view(self, request):
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        form = MarkdownPreviewForm(request.POST)
        if not form.is_valid():
            errors = " ".join(error for errors in form.errors.values() for error in errors)
            return HttpResponseBadRequest(errors, content_type="text/plain; charset=utf-8")
        return HttpResponse(render_markdown(form.cleaned_data["content"]), content_type="text/html; charset=utf-8")
