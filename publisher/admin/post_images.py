"""The images of the post form: its cover (fields of the post's own form) and the images of its body (an inline),
each upload accepted only as publisher.images validates it. They are reached only through a post its author may
change, which PostAdmin restricts to their own; they have no screen of their own."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminFileWidget
from django.utils.html import format_html

from .. import images
from ..models import PostImage


class CoverFields(forms.Form):
    """The cover fields that PostAdminForm adds to the post's own."""

    cover_image = images.ImageUploadField(
        required=False, widget=AdminFileWidget, help_text="JPEG, PNG, WebP or GIF, shown above the post."
    )
    cover_alt = forms.CharField(
        label="Cover alt text",
        max_length=300,
        required=False,
        help_text="What the cover shows, for readers who cannot see it.",
    )

    @staticmethod
    def initial_of(post):
        cover = post.images.filter(role=PostImage.Role.COVER).first() if post.pk else None
        return {"cover_image": cover.file, "cover_alt": cover.alt} if cover else {}

    @staticmethod
    def check_alt(form, cleaned):
        has_cover = cleaned.get("cover_image") not in (None, False)
        if has_cover and not cleaned.get("cover_alt", "").strip():
            form.add_error("cover_alt", "Describe the cover for readers who cannot see it.")


class BodyImageForm(forms.ModelForm):
    class Meta:
        model = PostImage
        fields = ["file", "alt"]
        field_classes = {"file": images.ImageUploadField}

    def clean(self):
        cleaned = super().clean()
        if isinstance(cleaned.get("file"), images.CleanImageFile):
            images.attach(self.instance, cleaned["file"])
        return cleaned


class BodyImageInline(admin.TabularInline):
    model = PostImage
    form = BodyImageForm
    extra = 1
    fields = ("file", "alt", "snippet")
    readonly_fields = ("snippet",)
    verbose_name = "image in the body"
    verbose_name_plural = "Images in the body (paste an image's Markdown where it goes in the post)"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(role=PostImage.Role.BODY)

    # Whoever may change the post may change its images: the post form is only shown for one's own posts.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("publisher.change_post")

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("publisher.change_post")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("publisher.change_post")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("publisher.change_post")

    @admin.display(description="Markdown to paste")
    def snippet(self, image):
        if not image.pk:
            return "Save the post to get the image's snippet."
        return format_html("<code>{}</code>", images.markdown_snippet(image))
