"""Open an untrusted image safely: limits first, then one frame, upright, in RGB."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError


class Unreadable(ValueError):
    """An image that cannot be read; the message is the one-line reason shown to investigators."""


# Formats a phone sends or a screenshot tool saves. Anything else (PSD, EPS, ICO…) is not
# evidence a reporter sends, and each extra decoder is extra attack surface.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")


def open_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """The first frame of an image, EXIF orientation applied, as RGB; Unreadable otherwise.

    The size is checked from the header before any pixel is decoded, so a 30,000 x
    30,000 PNG of one megabyte is refused without allocating its 2.7 GB.
    """
    if len(data) > max_bytes:
        raise Unreadable(f"file too large ({len(data):,} bytes; limit {max_bytes:,})")
    if not data:
        raise Unreadable("empty file")
    Image.init()  # every format's plugin, so that FORMATS can name them
    pillow_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow's own bomb check would refuse at open with a message of its own; ours,
        # below, reads the size from the header and names it.
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise Unreadable("not an image") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise Unreadable(f"not a readable image ({error})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    width, height = image.size
    if width <= 0 or height <= 0:
        raise Unreadable("image has no pixels")
    if width * height > max_pixels:
        raise Unreadable(f"image too large ({width:,} x {height:,} pixels; "
                         f"limit {max_pixels:,})")
    try:
        image.seek(0)  # an animated GIF or WebP: its first frame
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        return upright.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        reason = str(error) or type(error).__name__
        if "truncated" in reason:
            raise Unreadable("truncated image") from None
        raise Unreadable(f"cannot decode the image ({reason})") from None
