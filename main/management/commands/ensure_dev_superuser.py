import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from main.models import User

EMAIL = "admin@quickpublisher.local"


class Command(BaseCommand):
    help = "Development only: create a superuser with a random password (once) and print how to log in."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("ensure_dev_superuser is for development (DEBUG=1) only.")
        password_file = settings.VAR_DIR / "dev-admin-password.txt"
        if not User.objects.filter(email__iexact=EMAIL).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(email=EMAIL, full_name="Site admin", password=password)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        if password_file.exists():
            hint = f"password {password_file.read_text().strip()} (kept in {password_file})"
        else:
            hint = f"the password you set (python manage.py changepassword {EMAIL} to set a new one)"
        self.stdout.write(f"Admin: log in at {settings.SITE_URL}/admin/ as {EMAIL} with {hint}")
