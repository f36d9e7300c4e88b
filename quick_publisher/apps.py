from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """django.contrib.admin, with our admin site (see admin_site.py) as admin.site."""

    default_site = "quick_publisher.admin_site.QuickPublisherAdminSite"
