"""Chinese word segmentation (中文分词) with jieba: one tokenizer per process, shared by every
search of the platform, its dictionary loaded once from the jieba wheel (nothing is
downloaded)."""

from __future__ import annotations

import logging
import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

_tokenizer: jieba.Tokenizer | None = None
_lock = threading.Lock()


def tokenizer() -> jieba.Tokenizer:
    """jieba's tokenizer with its dictionary loaded (about a second, the first time)."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba as jieba_module

            jieba_module.setLogLevel(logging.WARNING)
            made = jieba_module.Tokenizer()
            made.initialize()
            _tokenizer = made
        return _tokenizer


def normalise(text: str) -> str:
    """Full-width forms as ASCII (ＡＢＣ → abc), lower case, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
