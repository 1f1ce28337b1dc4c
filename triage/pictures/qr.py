"""Decode the QR codes in an image with zxing-cpp (several per image, rotated or small)."""

from __future__ import annotations

import zxingcpp
from PIL import Image

# A receive code scanned off a screen is rarely sharp: below this width zxing is given a
# doubled copy too, which finds codes a phone's screenshot shrank.
SMALL = 600
_QR_ONLY = zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat.QRCode])


def decode_qr(image: Image.Image) -> list[str]:
    """The text of each QR code found, in reading order, each once."""
    found = _decode(image)
    if not found and max(image.size) < SMALL:
        found = _decode(image.resize((image.width * 2, image.height * 2),
                                     Image.Resampling.NEAREST))
    return list(dict.fromkeys(found))


def _decode(image: Image.Image) -> list[str]:
    # QR only: 0.4-3 ms an image against 3-25 ms with every format (DESIGN.md, measured),
    # and every code a reporter is told to scan is a QR code. try_rotate and
    # try_downscale (the defaults) find codes turned a quarter, or photographed large.
    results = zxingcpp.read_barcodes(image, formats=_QR_ONLY,
                                     try_rotate=True, try_downscale=True)
    return [r.text for r in results if r.valid and r.text]
