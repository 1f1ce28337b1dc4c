"""Recognise the text of a screenshot, Chinese and English, with rapidocr on onnxruntime.

The models ship inside rapidocr's wheel and nothing is fetched at run time: only the
bundled defaults are used, and no result is ever drawn (`.vis()` downloads a font).
Detection sees the image with its longer side at most 1280 px: a 1080 x 2340 screenshot
reads in 0.7-1.1 s at about 500 MB peak on this machine's CPU (DESIGN.md, measured).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

MAX_SIDE = 1280
MIN_SCORE = 0.5  # rapidocr's own default: below it a line is mostly noise


class Ocr:
    """A loaded recogniser (loading costs about a second: make one per process)."""

    def __init__(self, threads: int = 1) -> None:
        from rapidocr import RapidOCR

        self._engine: Any = RapidOCR(params={
            "Det.limit_type": "max",
            "Det.limit_side_len": MAX_SIDE,
            "Global.text_score": MIN_SCORE,
            # No text-direction classifier: screenshots are upright once EXIF is applied,
            # and it turned a clear line of a test screenshot into "USTZ3k" (measured).
            "Global.use_cls": False,
            "Global.log_level": "error",
            # One reader per core: onnxruntime's own threads would fight the webhook.
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })

    def lines(self, image: Image.Image) -> list[str]:
        """The lines of text in the image, in rapidocr's reading order (top to bottom)."""
        result = self._engine(np.asarray(image))
        return [t for t in (getattr(result, "txts", None) or ()) if t.strip()]
