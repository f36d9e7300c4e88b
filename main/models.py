import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from quick_publisher import time_zones

from . import slugs


def default_time_zone():
    return settings.TIME_ZONE


def validate_time_zone(name):
    if not time_zones.is_time_zone(name):
        raise ValidationError("%(name)s is not a time zone: choose one such as Europe/London.", params={"name": name})


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        """The domain lowercased and written as mail servers see it (IDNA), so that one mailbox is one address:
        "exa\u00admple.com", with an invisible soft hyphen, is example.com, and a look-alike domain shows as xn--."""
        email = super().normalize_email(email)
        local, at, domain = email.rpartition("@")
        if not at:
            return email
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return email  # not a valid domain name: the email field's validation says so
        return f"{local}@{domain}"

    def _create_user(self, email, password, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True, is_verified=True)
        fields.setdefault("verified_at", timezone.now())
        return self._create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=self.normalize_email(email))


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150)
    # Public (the author page's address): derived from the full name on save, never from the email address.
    slug = models.SlugField(max_length=160, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Staff users can log in to the admin; verified users become staff authors."
    )
    date_joined = models.DateTimeField("joined", default=timezone.now)

    is_verified = models.BooleanField("verified", default=False)
    verification_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The link that verified the account, so that opening it again can say so to its owner.
    used_verification_uuid = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    verification_sent_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="Your days and hours are in this zone.",
    )

    objects = UserManager()
    cached_session_auth_hash = None  # set on a user read from the user cache

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message="An account with this email address already exists.",
            )
        ]
        indexes = [models.Index(fields=["is_verified", "verification_sent_at"], name="user_unsent_verification_idx")]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "full_name" not in update_fields:
            return super().save(*args, **kwargs)
        if slugs.slug_fits_name(self.slug, self.full_name):
            return super().save(*args, **kwargs)
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "slug"}
        return self.save_with_free_slug(*args, **kwargs)

    def save_with_free_slug(self, *args, **kwargs):
        """Save under the name's first free slug, again with the next one should a concurrent twin take it."""
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        others = type(self)._default_manager.using(using).exclude(pk=self.pk)
        for _ in range(5):
            base = slugs.slug_base(self.full_name)
            self.slug = slugs.free_slug(
                self.full_name, set(others.filter(slug__startswith=base).values_list("slug", flat=True))
            )
            try:
                with transaction.atomic(using=using):
                    return super().save(*args, **kwargs)
            except IntegrityError:
                if not others.filter(slug=self.slug).exists():
                    raise  # another constraint (the email's): not the slug's to retry
        raise IntegrityError(f"Could not find a free slug for {self.full_name!r}")

    def clean(self):
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def get_session_auth_hash(self):
        # A user read from the user cache (.user_cache) has its session hash, not its password's hash, until the
        # password is read or set.
        if self.cached_session_auth_hash is not None and "password" in self.get_deferred_fields():
            return self.cached_session_auth_hash
        return super().get_session_auth_hash()

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email
