import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from quick_publisher import time_zones


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

    def clean(self):
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email
