import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import reverse
from taggit.managers import TaggableManager

from .rendering import excerpt_from_html, render_markdown


class Post(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHED = "published", "Published"

    # No index of its own: post_author_status_idx serves lookups by author, and by author and status.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts", db_index=False)
    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=220, unique=True, blank=True, help_text="Leave empty to derive it from the title."
    )
    description = models.CharField(
        max_length=300,
        blank=True,
        help_text="A sentence or two: the page's description for search engines and sharing, and the excerpt on "
        "the home page. Leave empty to use the post's opening words.",
    )
    content = models.TextField(help_text="Markdown.")
    # Rendered and sanitized once, on save, so that a page view never parses Markdown.
    content_html = models.TextField(editable=False, default="")
    excerpt = models.CharField(max_length=300, editable=False, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    # When a scheduled post goes live (publisher.tasks.publish_scheduled_posts, every minute).
    publish_at = models.DateTimeField(
        "publish at", null=True, blank=True, help_text="For a scheduled post: when it goes live, in your time zone."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    view_count = models.PositiveBigIntegerField("views", default=0, editable=False)
    tags = TaggableManager(blank=True, help_text="Separated by commas; a new tag is created as you type it.")

    class Meta:
        ordering = ["-published_at", "-created_at"]
        indexes = [
            models.Index(fields=["author", "status"], name="post_author_status_idx"),
            models.Index(fields=["status", "publish_at"], name="post_status_publish_at_idx"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.content_html = render_markdown(self.content)
        self.excerpt = self.description.strip() or excerpt_from_html(self.content_html)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"content", "description"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "content_html", "excerpt"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("post_detail", args=[self.slug])

    @property
    def is_published(self):
        return self.status == self.Status.PUBLISHED

    def clean(self):
        going_live = self.status in (self.Status.PUBLISHED, self.Status.SCHEDULED)
        if going_live and self.author_id and not self.author.is_verified:
            raise ValidationError(
                {"status": "Only authors with a verified email address can publish. Verify yours, then publish."}
            )
        if self.status == self.Status.SCHEDULED and self.publish_at is None:
            raise ValidationError({"publish_at": "Choose when a scheduled post goes live."})


IMAGES_FOLDER = "images"


def post_image_name(image, filename):
    """Where an uploaded image is stored: a folder of its own, named at random, which its renditions share (the
    extension is the one of the format found in its content, publisher/images/validation.py)."""
    extension = filename.rpartition(".")[2].lower()
    return f"{IMAGES_FOLDER}/{uuid.uuid4().hex}/original.{extension}"


class PostImage(models.Model):
    """An image of a post: its cover, or one shown in its body. The stored original has no EXIF (stripped at upload,
    its orientation applied); its renditions (publisher/images/renditions.py) are made by a worker after the commit."""

    class Role(models.TextChoices):
        COVER = "cover", "Cover"
        BODY = "body", "In the body"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="images")
    role = models.CharField(max_length=5, choices=Role.choices, default=Role.BODY)
    file = models.FileField("image", upload_to=post_image_name, max_length=200)
    alt = models.CharField(
        "alt text", max_length=300, blank=True, help_text="What the image shows, for readers who cannot see it."
    )
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    size = models.PositiveBigIntegerField("bytes", default=0, editable=False)
    # [{"name", "width", "height", "format"}, ...]: recorded once every rendition is stored; None until then (the
    # pages serve the original meanwhile), [] when the original is narrower than every rendition width.
    renditions = models.JSONField(null=True, default=None, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["post"], condition=models.Q(role="cover"), name="post_image_one_cover")
        ]

    def __str__(self):
        return self.alt or self.file.name


class DailyPostViews(models.Model):
    """Views of one post on one day of its author (in their zone when the view was counted), so that reports can
    say how the author's yesterday went."""

    # No index of its own: the unique constraint's index on (post, date) serves lookups by post.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="daily_views", db_index=False)
    date = models.DateField()
    views = models.PositiveBigIntegerField(default=0)
    # Distinct readers that day, estimated (HyperLogLog, about 1% off); None where unknown (days before readers were
    # counted, or counted while Redis was unavailable).
    readers = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "daily post views"
        constraints = [models.UniqueConstraint(fields=["post", "date"], name="daily_views_post_date_unique")]
        indexes = [models.Index(fields=["date"], name="daily_views_date_idx")]

    def __str__(self):
        return f"{self.post_id} on {self.date}: {self.views}"


class ViewFlush(models.Model):
    """A batch of buffered views moved from Redis into the database, recorded in the same transaction as the
    counts, so that a batch is applied exactly once even if the flush is interrupted and run again."""

    batch_id = models.CharField(max_length=64, unique=True)
    flushed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    views = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return self.batch_id


class FlushedPostViews(models.Model):
    """The views one flush adds to one post: written and read within the flush's transaction, so that the posts'
    totals are updated in one statement however many posts the batch touched."""

    # Its rows are deleted in the transaction that writes them: none is left for a ViewFlush to take with it.
    flush = models.ForeignKey(ViewFlush, on_delete=models.DO_NOTHING, related_name="+")
    post_id = models.BigIntegerField()  # not a foreign key: a post deleted since its views were buffered is skipped
    views = models.PositiveBigIntegerField()

    class Meta:
        verbose_name_plural = "flushed post views"
        constraints = [models.UniqueConstraint(fields=["flush", "post_id"], name="flushed_views_flush_post_unique")]

    def __str__(self):
        return f"{self.post_id}: {self.views}"


class LostPageInvalidation(models.Model):
    """A change to cached post pages that Redis was unreachable for when it committed (publisher/page_cache/
    invalidation.py): once Redis answers again, every page is read again, and the row deleted."""

    lost_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"page invalidation lost at {self.lost_at}"


class ReaderSalt(models.Model):
    """The random salt of one day's readers (publisher/counting/readers.py): their address and user agent reach
    Redis only hashed with it. Kept only here, never in Redis, and deleted once its day is over in every zone."""

    day = models.DateField(unique=True)
    salt = models.CharField(max_length=64, editable=False)

    def __str__(self):
        return f"readers' salt of {self.day}"


class ReportKind(models.TextChoices):
    """The one definition of a report's kinds: a delivery's kind, and an author's frequency when reports are on."""

    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class ReportPreferences(models.Model):
    """An author's choice of view-count reports, and when their next one is due. The day and hour are in the
    author's own time zone (the user's time_zone)."""

    class Frequency(models.TextChoices):
        DAILY = ReportKind.DAILY.value, "Daily, about the day before"
        WEEKLY = ReportKind.WEEKLY.value, "Weekly, on Monday, about the week before"
        OFF = "off", "Off"

    author = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="report_preferences"
    )
    frequency = models.CharField(
        "email me a report of my posts' views", max_length=10, choices=Frequency.choices, default=Frequency.DAILY
    )
    hour = models.PositiveSmallIntegerField(
        "report hour", default=7, validators=[MaxValueValidator(23)], help_text="0 to 23, in your time zone."
    )
    # When the next report is due, in UTC, while the author has a published post: the tick finds the due on this
    # index without reading posts. Kept by publisher.reports.preferences and moved on by the tick.
    next_report_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    class Meta:
        verbose_name_plural = "report preferences"

    def __str__(self):
        return f"Reports of {self.author}: {self.get_frequency_display()}"


class ReportRun(models.Model):
    """One tick of the periodic report task that found authors due: what it found and queued. What became of
    each report (sent, failed, skipped) is read from the deliveries linked to it, never copied here."""

    ticked_at = models.DateTimeField(db_index=True)
    periods = models.JSONField(default=list, help_text='The periods it covered, as "daily 2026-11-29".')
    authors_due = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-ticked_at", "-pk"]

    def __str__(self):
        return f"Report run at {self.ticked_at:%Y-%m-%d %H:%M} UTC"


class ReportDelivery(models.Model):
    """One report (daily or weekly) to one author for one period: claimed before the email is sent and marked
    after, so that each author gets at most one report per period whatever beat, ticks, workers and retries do."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"  # its hour passed more than a day before a tick could send it: never sent

    Kind = ReportKind

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DAILY)
    period_start = models.DateField(help_text="The first day of the period, in the author's days.")
    run = models.ForeignKey(
        ReportRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        help_text="The tick that found it due; empty when sent by hand (command or admin).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    task_id = models.CharField(max_length=255, blank=True, default="")
    # Whose claim it is: one execution of a task. A redelivered message keeps its task id; this is new each time.
    claim_token = models.CharField(max_length=64, blank=True, default="")
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the claim was made or last renewed: it lapses REPORT_CLAIM_LEASE later."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "report deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["author", "kind", "period_start"], name="report_delivery_author_kind_period_unique"
            )
        ]
        indexes = [models.Index(fields=["period_start", "status"], name="report_period_status_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} report for {self.author_id} from {self.period_start}: {self.status}"
