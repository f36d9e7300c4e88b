from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("main.urls")),
    # Last: publisher owns the catch-all /<slug>/ pattern.
    path("", include("publisher.urls")),
]
