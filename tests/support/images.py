"""Image files as authors upload them, made with Pillow: photos with a GPS position and an orientation in their
EXIF, files whose name lies about their content, and files a server must refuse."""

import io
import os

from PIL import ExifTags, Image

GPS_POSITION = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0),
}
ROTATE_90_CLOCKWISE = 6  # EXIF orientation: the camera was held on its side


def photo(width, height, *, image_format="JPEG", orientation=None, gps=False):
    """A photo with a gradient (so that encoders have something to encode), and the EXIF a phone writes."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS_POSITION)
    out = io.BytesIO()
    image.save(out, format=image_format, exif=exif, quality=90)
    return out.getvalue()


def noise_png(width, height):
    """A PNG that does not compress: about width × height × 3 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def bilevel_png(width, height):
    """A huge image in a small file (one bit a pixel, all white, compressed): a decompression bomb."""
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, format="PNG")
    return out.getvalue()


SVG_WITH_SCRIPT = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(document.cookie)</script>
<rect width="100" height="100" fill="red"/></svg>"""
TEXT = b"This is not an image, whatever its name says.\n" * 20


def exif_of(data):
    """The EXIF Pillow finds in an image file (empty when there is none), and whether any EXIF or GPS block is in
    its bytes at all."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return dict(exif), dict(exif.get_ifd(ExifTags.IFD.GPSInfo)), b"Exif\x00\x00" in data
