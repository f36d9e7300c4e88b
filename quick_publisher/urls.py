from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # First: publisher's post page, the most requested, is tried before anything else (see publisher.urls).
    path("", include("publisher.urls")),
    path("admin/", admin.site.urls),
    path("", include("main.urls")),
    # Uploaded images, served by `make run` (DEBUG only: the web server or the bucket serves them in production).
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
