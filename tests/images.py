"""Real images for the tests: QR codes (segno) pasted into drawn screenshots, and hostile files.

Text is drawn with Pillow's own scalable font (ASCII): CI machines may have no CJK font,
so the Chinese screenshot is a committed file (tests/pictures/chat_zh.png).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

PICTURES = Path(__file__).with_name("pictures")
CHAT_ZH = PICTURES / "chat_zh.png"
# What a WeChat Pay personal receive code, an Alipay code and a group invite decode to.
WECHAT_PAY = "wxp://f2f0Pz3YfGHq8kLmN1xR5tUvW9aB"
ALIPAY = "https://qr.alipay.com/fkx19226ehkhzjelqx9bm0e"
GROUP = "https://weixin.qq.com/g/AwYAAHO_vL9sgcVAzNUGm1Sb1qM"
TRON = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"


def qr(text: str, scale: int = 8) -> Image.Image:
    """A QR code of `text`, as a phone would show it."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def screenshot(lines: list[str], codes: list[str] = (), size: tuple[int, int] = (1080, 2340),
               background: tuple[int, int, int] = (237, 237, 237)) -> Image.Image:
    """A chat screenshot: bubbles of text (wrapped as a phone wraps them), then QR codes."""
    font = ImageFont.load_default(size=40)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    y = 160
    for line in lines:
        rows = _wrap(draw, line, font, size[0] - 200)
        width = max(int(draw.textlength(row, font=font)) for row in rows)
        height = 60 * len(rows)
        draw.rounded_rectangle((40, y - 20, 40 + width + 60, y + height + 10), 16,
                               fill=(255, 255, 255))
        for n, row in enumerate(rows):
            draw.text((70, y + 60 * n), row, font=font, fill=(20, 20, 20))
        y += height + 90
    for code in codes:
        picture = qr(code, scale=9)
        image.paste(picture, ((size[0] - picture.width) // 2, y))
        y += picture.height + 40
    return image


def _wrap(draw: ImageDraw.ImageDraw, line: str, font: ImageFont.FreeTypeFont, width: int
          ) -> list[str]:
    """Break a line where it would leave the bubble, anywhere (as chat apps break addresses)."""
    rows, row = [], ""
    for char in line:
        if row and draw.textlength(row + char, font=font) > width:
            rows.append(row)
            row = ""
        row += char
    return [*rows, row]


def encoded(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    """The image as a file's bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG of width x height black pixels that compresses to about a megabyte."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte, then 1-bit pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))
