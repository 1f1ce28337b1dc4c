"""Draw tests/pictures/chat_zh.png: a "customer service" chat in Chinese, for the OCR tests.

Committed as a file because CI machines may have no CJK font; run this again (with a CJK
font such as Debian's fonts-noto-cjk) only to change it:

    .venv/bin/python tests/pictures/make_chat_zh.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OUT = Path(__file__).with_name("chat_zh.png")
# A phone wraps the long address over two bubbles' lines: the reader must join them.
LINES = (
    "币安国际客服",
    "您好，充值请加客服微信 huobi_kefu88",
    "USDT（ERC20）收款地址：",
    "0x8ba1f109551bD432803012645A",
    "c136ddd64DBA72",
    "官网 www.huobi-vip.com 注册送100U",
)


def main() -> None:
    """Draw the chat."""
    font = ImageFont.truetype(FONT, 30, index=2)  # index 2: the Simplified Chinese face
    image = Image.new("RGB", (720, 760), (237, 237, 237))
    draw = ImageDraw.Draw(image)
    y = 40
    for line in LINES:
        width = int(draw.textlength(line, font=font))
        draw.rounded_rectangle((24, y - 14, 24 + width + 40, y + 50), 12, fill=(255, 255, 255))
        draw.text((44, y), line, font=font, fill=(25, 25, 25))
        y += 110
    image.save(OUT, optimize=True)


if __name__ == "__main__":
    main()
