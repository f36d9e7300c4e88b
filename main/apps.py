from django.apps import AppConfig


class MainConfig(AppConfig):
    name = "main"
    verbose_name = "Accounts"

    def ready(self):
        from . import signals  # noqa: F401
