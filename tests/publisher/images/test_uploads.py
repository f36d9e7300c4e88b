"""Uploads in the post form: accepted by what the file is, not what it is called; refused with a form error that
says why, leaving nothing in storage."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from publisher import images
from publisher.models import Post, PostImage
from tests.factories import AuthorFactory, PostFactory
from tests.publisher.images.conftest import stored_files
from tests.support.admin_forms import POST_FORM
from tests.support.images import SVG_WITH_SCRIPT, TEXT, bilevel_png, exif_of, noise_png, photo


def upload(name, data):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def post_form(client, *, url="/admin/publisher/post/add/", cover=None, body=(), **fields):
    """The post form as a browser posts it, with a cover and images in the body."""
    data = {**POST_FORM, **fields, "images-TOTAL_FORMS": str(len(body))}
    if cover is not None:
        data.update(cover_image=cover, cover_alt="The cover")
    for index, file in enumerate(body):
        data.update({f"images-{index}-file": file, f"images-{index}-alt": f"Image {index}"})
    return client.post(url, data)


@pytest.fixture
def author(client):
    author = AuthorFactory()
    client.force_login(author)
    return author


@pytest.mark.django_db
def test_a_png_named_jpg_is_stored_as_the_png_it_is(client, author, media):
    png = photo(800, 600, image_format="PNG")
    response = post_form(client, cover=upload("holiday.jpg", png), body=[upload("chart.jpg", png)])
    assert response.status_code == 302, response.context["adminform"].form.errors
    post = Post.objects.get(author=author)
    assert [(image.role, image.file.name.rpartition(".")[2]) for image in post.images.order_by("role")] == [
        ("body", "png"),
        ("cover", "png"),
    ]
    for image in post.images.all():
        with Image.open(image.file.path) as stored:
            assert stored.format == "PNG" and stored.size == (image.width, image.height) == (800, 600)
        assert image.size == image.file.size


@pytest.mark.django_db
def test_the_stored_original_has_no_exif_and_is_upright(client, author, media):
    sideways = photo(1200, 2000, orientation=6, gps=True)  # held on its side: upright, it is 2000 × 1200
    assert exif_of(sideways)[1]  # the upload has a GPS position
    post_form(client, cover=upload("photo.jpg", sideways))
    cover = PostImage.objects.get()
    data = cover.file.read()
    assert exif_of(data) == ({}, {}, False)
    assert (cover.width, cover.height) == Image.open(cover.file.path).size == (2000, 1200)


@pytest.mark.django_db
def test_the_change_form_shows_each_body_images_snippet_to_paste(client, author, media):
    post_form(client, body=[upload("chart.png", photo(640, 480, image_format="PNG"))])
    post = Post.objects.get()
    image = post.images.get()
    page = client.get(f"/admin/publisher/post/{post.pk}/change/").content.decode()
    assert f"<code>![Image 0]({image.file.url})</code>" in page


REFUSED = {
    "text named .png": ("notes.png", lambda: TEXT, "not a JPEG, PNG, WebP or GIF image"),
    "SVG with a script": ("drawing.svg", lambda: SVG_WITH_SCRIPT, "SVG is not accepted"),
    "20,000 by 20,000 pixels": ("bomb.png", lambda: bilevel_png(20_000, 20_000), "too many pixels"),
    "42 megapixels": ("wide.png", lambda: bilevel_png(7000, 6000), "7,000 × 6,000 pixels"),
    "11 MB": ("large.png", lambda: noise_png(2000, 1950), "images may be up to 10.0\xa0MB"),  # filesizeformat: no break
}


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["cover", "body"])
@pytest.mark.parametrize("refused", REFUSED, ids=list(REFUSED))
def test_a_file_that_is_not_an_acceptable_image_is_a_form_error_and_leaves_nothing(
    client, author, media, where, refused
):
    name, make, reason = REFUSED[refused]
    file = upload(name, make())
    response = post_form(client, **({"cover": file} if where == "cover" else {"body": [file]}))
    assert response.status_code == 200
    if where == "cover":
        errors = response.context["adminform"].form.errors["cover_image"]
    else:
        [inline] = response.context["inline_admin_formsets"]
        errors = inline.formset.forms[0].errors["file"]
    assert len(errors) == 1 and reason in errors[0], errors
    assert not Post.objects.exists() and not PostImage.objects.exists()
    assert stored_files(media) == []


@pytest.mark.django_db
def test_an_author_cannot_add_images_to_someone_elses_post(client, author, media):
    other = PostFactory()
    url = f"/admin/publisher/post/{other.pk}/change/"
    response = post_form(client, url=url, cover=upload("photo.jpg", photo(640, 480)), title="Taken over")
    assert response.status_code == 404
    assert not PostImage.objects.exists() and stored_files(media) == []


def test_an_animated_gif_keeps_its_frames():
    frames = [Image.new("RGB", (64, 48), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    clean = images.clean_upload(upload("animation.webp", out.getvalue()))
    with Image.open(io.BytesIO(clean.read())) as stored:
        assert (stored.format, stored.n_frames, stored.size, clean.name) == ("GIF", 3, (64, 48), "upload.gif")
