from django.apps import AppConfig


class PublisherConfig(AppConfig):
    name = "publisher"
    verbose_name = "Publishing"

    def ready(self):
        from . import signals  # noqa: F401
