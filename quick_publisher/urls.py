from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # First: publisher's post page, the most requested, is tried before anything else (see publisher.urls).
    path("", include("publisher.urls")),
    path("admin/", admin.site.urls),
    path("", include("main.urls")),
]
