"""The posts' admin: each author sees and changes only their own posts; publishing, scheduling and previewing."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html

from quick_publisher.time_zones import zone

from .. import counting, images, posts
from ..models import Post
from .markdown_preview import MarkdownEditor, MarkdownPreview
from .post_images import BodyImageInline, CoverFields
from .stats import PostStatsScreens
from .tags import PostTagsField


class PostAdminForm(forms.ModelForm):
    current_user = None  # set by PostAdmin.get_form
    cover_image = CoverFields.base_fields["cover_image"]
    cover_alt = CoverFields.base_fields["cover_alt"]

    class Meta:
        model = Post
        fields = [
            "author",
            "title",
            "slug",
            "description",
            "content",
            "tags",
            "status",
            "publish_at",
        ]  # PostAdmin.get_fields shows the rest read-only
        widgets = {"content": MarkdownEditor}
        field_classes = {"tags": PostTagsField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.author_id is None and "author" not in self.fields:
            # Set before validation, so that Post.clean can check that the author may publish.
            self.instance.author = self.current_user
        for name, value in CoverFields.initial_of(self.instance).items():
            self.initial.setdefault(name, value)

    def clean(self):
        cleaned = super().clean()
        scheduled = cleaned.get("status") == Post.Status.SCHEDULED
        publish_at = cleaned.get("publish_at")
        if scheduled and publish_at is not None and publish_at <= timezone.now():
            self.add_error("publish_at", "Choose a time in the future, or publish the post now.")
        CoverFields.check_alt(self, cleaned)
        return cleaned

    def clean_slug(self):
        slug = self.cleaned_data.get("slug")
        if not slug:
            return slug
        return posts.unique_slug(slug, exclude_pk=self.instance.pk)


def short_date_and_time(moment):
    """A list's date: short, the day above the time, so that every column fits beside the filters."""
    if moment is None:
        return None
    local = timezone.localtime(moment)
    return format_html(
        '<span class="nowrap">{}</span><br>{}', formats.date_format(local, "j M Y"), formats.time_format(local, "H:i")
    )


def rendered_in_users_zone(request, view, *args, **kwargs):
    with timezone.override(zone(request.user.time_zone)):
        response = view(request, *args, **kwargs)
        if hasattr(response, "render"):
            response.render()
        return response


class PostChangeList(ChangeList):
    """The admin's list of posts, with the views their pages show read for the whole page of rows at once."""

    def get_results(self, request):
        super().get_results(request)
        views = counting.shown_views_of_posts({post.pk: post.view_count for post in self.result_list})
        for post in self.result_list:
            post.views_shown = views[post.pk]


@admin.register(Post)
class PostAdmin(MarkdownPreview, PostStatsScreens, admin.ModelAdmin):
    form = PostAdminForm
    # What an author looks for fits a laptop's screen beside the filters; superusers also see whose post it is.
    list_display = ("title", "status", "views", "stats_link", "goes_live", "updated")
    list_filter = ("status", "published_at")
    search_fields = ("title",)
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("views", "published_at", "created_at", "updated_at", "preview_link")
    actions = ["publish", "unpublish", "unschedule"]
    inlines = [BodyImageInline]

    # --- Each author sees and touches only their own posts ---

    def get_queryset(self, request):
        posts = super().get_queryset(request).select_related("author")
        if request.user.is_superuser:
            return posts
        return posts.filter(author=request.user)

    def get_object(self, request, object_id, from_field=None):
        post = super().get_object(request, object_id, from_field)
        if post is None:  # someone else's post, or none at all: the same answer
            raise Http404("No such post.")
        return post

    def get_fields(self, request, obj=None):
        fields = [
            "title",
            "slug",
            "description",
            "content",
            "tags",
            "cover_image",
            "cover_alt",
            "status",
            "publish_at",
            "preview_link",
            "views",
            "published_at",
            "created_at",
            "updated_at",
        ]
        if request.user.is_superuser:
            fields.insert(0, "author")
        return fields

    def get_list_display(self, request):
        if request.user.is_superuser:
            return (*self.list_display[:1], "author_name", *self.list_display[1:])
        return self.list_display

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return (*self.list_filter, "author")
        return self.list_filter

    def changeform_view(self, request, *args, **kwargs):
        # Dates and times, a scheduled post's included, are shown and entered in the author's own zone.
        return rendered_in_users_zone(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return rendered_in_users_zone(request, super().changelist_view, *args, **kwargs)

    def get_changelist(self, request, **kwargs):
        return PostChangeList

    @admin.display(description="Views")
    def views(self, post):
        """As the post's page shows them: in the database plus not flushed yet."""
        if post.pk is None:
            return 0
        shown = getattr(post, "views_shown", None)  # set for a whole page of the list by PostChangeList
        return counting.shown_views_of_post(post) if shown is None else shown

    @admin.display(description="Date", ordering=Coalesce("published_at", "publish_at"))
    def goes_live(self, post):
        """When the post went live, or for a scheduled one when it will."""
        if post.status == Post.Status.SCHEDULED:
            return short_date_and_time(post.publish_at)
        return short_date_and_time(post.published_at)

    @admin.display(description="Author", ordering="author__full_name")
    def author_name(self, post):
        return post.author.full_name or post.author.email  # a name wraps where an address cannot

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, post):
        return short_date_and_time(post.updated_at)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.current_user = request.user
        return form

    def get_changeform_initial_data(self, request):
        return {"author": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if obj.author_id is None:
            obj.author = request.user
        posts.save_post(obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        images.save_cover(form.instance, upload=form.cleaned_data["cover_image"], alt=form.cleaned_data["cover_alt"])

    def delete_model(self, request, obj):
        posts.delete_posts(posts=Post.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        posts.delete_posts(posts=queryset)

    # --- Publishing ---

    @admin.action(description="Publish selected posts", permissions=["change"])
    def publish(self, request, queryset):
        try:
            published, unverified = posts.publish_posts(posts=queryset, user=request.user)
        except posts.NotAllowedToPublish as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Published {published} post(s).", messages.SUCCESS)
        if unverified:
            self.message_user(
                request,
                f"{unverified} draft(s) stay drafts: their authors have not verified their email address yet.",
                messages.WARNING,
            )

    @admin.action(description="Unpublish selected posts", permissions=["change"])
    def unpublish(self, request, queryset):
        count = posts.unpublish_posts(posts=queryset)
        self.message_user(request, f"Unpublished {count} post(s).", messages.SUCCESS)

    @admin.action(description="Unschedule selected posts (back to drafts)", permissions=["change"])
    def unschedule(self, request, queryset):
        count = posts.unschedule_posts(posts=queryset)
        self.message_user(request, f"{count} post(s) are drafts again.", messages.SUCCESS)

    # --- Preview: drafts are never public, but their author can see how they will look ---

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        return [
            *self.stats_urls(),
            *self.markdown_preview_urls(),
            path("<path:object_id>/preview/", preview, name="publisher_post_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id):
        post = self.get_object(request, object_id)
        if not self.has_view_or_change_permission(request, post):
            raise Http404("No such post.")
        views = counting.shown_views_of_post(post)
        context = {"post": post, "views": views, "pictures": images.post_pictures(post), "preview": True}
        return render(request, "publisher/post_detail.html", context)

    @admin.display(description="Preview")
    def preview_link(self, post):
        if not post.pk:
            return "Save the post to preview it."
        return format_html(
            '<a href="{}">Preview this post</a>', reverse("admin:publisher_post_preview", args=[post.pk])
        )
