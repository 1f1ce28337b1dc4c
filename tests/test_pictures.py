"""Reading pictures: what a reporter's screenshot or payment code yields, and hostile files.

Every image is real (drawn by tests/images.py, or the committed Chinese chat), decoded by
zxing-cpp and read by rapidocr's bundled models, as the reader process does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from tests.images import (
    ALIPAY,
    CHAT_ZH,
    GROUP,
    TRON,
    WECHAT_PAY,
    encoded,
    png_bomb,
    qr,
    screenshot,
)
from triage.pictures.decode import Unreadable
from triage.pictures.ocr import Ocr
from triage.pictures.phash import NEAR, distance, phash
from triage.pictures.read import Reading, read_picture

LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000}


@pytest.fixture(scope="module")
def ocr() -> Ocr:
    return Ocr()


@pytest.fixture(scope="module")
def read(ocr: Ocr) -> Callable[[bytes], Reading]:
    def read_(data: bytes) -> Reading:
        return read_picture(data, lines=ocr.lines, **LIMITS)  # type: ignore[arg-type]

    return read_


def kinds(reading: Reading) -> set[tuple[str, str, str]]:
    return {(f.kind, f.value, f.source) for f in reading.found}


def test_a_photo_of_a_wechat_pay_code_yields_its_payee(read: Callable[[bytes], Reading]
                                                       ) -> None:
    reading = read(encoded(qr(WECHAT_PAY)))
    assert reading.qr == (WECHAT_PAY,)
    assert ("wechat_pay", WECHAT_PAY, "qr") in kinds(reading)


def test_a_screenshot_yields_the_codes_and_the_text_around_them(
    read: Callable[[bytes], Reading]
) -> None:
    shot = screenshot([f"USDT TRC20: {TRON}", "WeChat: huobi_kefu88"], [ALIPAY, GROUP])
    found = kinds(read(encoded(shot, quality=85)))
    assert ("alipay", "fkx19226ehkhzjelqx9bm0e", "qr") in found
    assert ("wechat_group", "AwYAAHO_vL9sgcVAzNUGm1Sb1qM", "qr") in found
    assert ("tron", TRON, "ocr") in found
    assert ("wechat_id", "huobi_kefu88", "ocr") in found


def test_the_chinese_chat_is_read_and_the_wrapped_address_joined(
    read: Callable[[bytes], Reading]
) -> None:
    reading = read(CHAT_ZH.read_bytes())
    assert "充值请加客服微信" in reading.text
    assert len(reading.text.splitlines()) == 6
    found = kinds(reading)
    assert ("evm", "0x8ba1f109551bd432803012645ac136ddd64dba72", "ocr") in found
    assert ("wechat_id", "huobi_kefu88", "ocr") in found
    assert ("domain", "huobi-vip.com", "ocr") in found


@pytest.mark.parametrize("change", ["rotated 90", "rotated 180", "small", "recompressed",
                                    "tilted"])
def test_a_payment_code_is_found_turned_shrunk_or_recompressed(
    read: Callable[[bytes], Reading], change: str
) -> None:
    code = qr(WECHAT_PAY, scale=8)
    picture = Image.new("RGB", (900, 900), (250, 250, 250))
    picture.paste(code, (150, 150))
    if change == "rotated 90":
        picture = picture.rotate(90, expand=True)
    elif change == "rotated 180":
        picture = picture.rotate(180)
    elif change == "small":
        picture = picture.resize((260, 260))
    elif change == "tilted":
        picture = picture.rotate(12, fillcolor=(250, 250, 250))
    data = encoded(picture, quality=25 if change == "recompressed" else 90)
    assert read(data).qr == (WECHAT_PAY,)


def test_exif_orientation_is_applied_before_reading() -> None:
    from triage.pictures.decode import open_image

    picture = Image.new("RGB", (400, 200), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    data = encoded(picture, exif=exif)
    assert open_image(data, **LIMITS).size == (200, 400)


def test_an_animated_gif_is_read_from_its_first_frame(read: Callable[[bytes], Reading]
                                                      ) -> None:
    first = qr(WECHAT_PAY).convert("P")
    second = Image.new("P", first.size, 0)
    data = encoded(first, "GIF", save_all=True, append_images=[second], duration=100)
    assert read(data).qr == (WECHAT_PAY,)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: png_bomb(), "image too large (30,000 x 30,000 pixels"),
    (lambda: encoded(screenshot(["hello"]))[:5000], "truncated image"),
    (lambda: b"<html>not a picture</html>" * 40, "not an image"),
    (lambda: b"", "empty file"),
    (lambda: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40, "not"),  # a JPEG's magic, then junk
])
def test_a_hostile_file_is_refused_with_a_one_line_reason(
    read: Callable[[bytes], Reading], make: Callable[[], bytes], reason: str
) -> None:
    data = make()
    with pytest.raises(Unreadable) as refused:
        read(data)
    assert str(refused.value).startswith(reason)
    assert "\n" not in str(refused.value)


def test_a_bomb_is_refused_before_its_pixels_are_decoded() -> None:
    import resource
    import time

    data = png_bomb()
    assert len(data) < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    with pytest.raises(Unreadable):
        read_picture(data, lines=None, **LIMITS)  # type: ignore[arg-type]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB
    assert time.process_time() - started < 5


def test_a_file_over_the_byte_limit_is_refused() -> None:
    with pytest.raises(Unreadable, match="file too large"):
        read_picture(b"x" * 2048, lines=None, max_bytes=1024, max_pixels=10**6)


# --- the same image, sent twice -------------------------------------------------------------


def test_copies_of_a_screenshot_hash_near_and_another_chat_far() -> None:
    original = screenshot(["Customer service Amy", f"USDT: {TRON}", "WeChat: huobi_kefu88"],
                          [WECHAT_PAY])
    copies = {
        "resized": original.resize((540, 1170)),
        "recompressed": Image.open(__import__("io").BytesIO(encoded(original, quality=30))),
        "cropped": original.crop((20, 40, 1060, 2300)),
    }
    other = screenshot(["Customer service Bob", "Pay to the card below", "or scan the code"],
                       [ALIPAY])
    base = phash(original)
    for name, copy in copies.items():
        assert distance(base, phash(copy)) <= NEAR, name
    assert distance(base, phash(other)) > NEAR
