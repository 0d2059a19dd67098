"""The order classifier (工单智能分类): the category of a work order from its text.

Features are hashed, so the model needs no vocabulary and a new word costs nothing: the
words of jieba's segmentation (分词) and the character 1- to 3-grams (which catch what the
segmenter splits badly: 井盖, 噪音/噪声). A linear model (scikit-learn's SGDClassifier with the
logistic loss) scores each category; its scores are calibrated by one temperature fitted on a
calibration slice of the training orders, so a confidence of 0.8 means about 8 in 10 right.

The department is not a second model: it is the category's default department (categories.py),
and the confidence in a department is the sum of its categories' probabilities."""

from __future__ import annotations

import io
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jieba
import joblib
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from smartcity.hotline.categories import LEAVES

jieba.setLogLevel(logging.WARNING)

# What one order's text may be for the classifier (the schemas bound it to 2000 too).
TEXT_MAX = 2000
# Below these there is nothing to learn from: say so rather than ship a guess.
MIN_ORDERS = 30
MIN_CLASSES = 2
HELD_OUT = 0.2
CALIBRATION = 0.15
# Hashed feature space (words, characters): smaller for a small city, where most buckets
# would stay empty and each category's weights cost time to fit all the same.
FEATURES_LARGE = (2**15, 2**16)
FEATURES_SMALL = (2**12, 2**14)
SMALL_BELOW = 20_000
TOP = 3


class TooFewOrders(ValueError):
    """Training was asked for on too few orders (or only one category)."""


def _words(text: str) -> list[str]:
    """jieba's words, without the blanks and the punctuation it returns as words."""
    return [w for w in jieba.lcut(text[:TEXT_MAX], HMM=False) if w.strip() and w.isalnum()]


def _vectorizers(
    sizes: tuple[int, int] = FEATURES_LARGE,
) -> tuple[HashingVectorizer, HashingVectorizer]:
    words = HashingVectorizer(analyzer=_words, n_features=sizes[0], alternate_sign=False, norm="l2")
    chars = HashingVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        n_features=sizes[1],
        alternate_sign=False,
        norm="l2",
        lowercase=True,
    )
    return words, chars


def _softmax(scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray[Any, Any] = exp / exp.sum(axis=1, keepdims=True)
    return result


@dataclass
class Classifier:
    """A fitted classifier: the hashed features, the linear model and its temperature."""

    model: SGDClassifier
    temperature: float
    classes: list[str]
    sizes: tuple[int, int] = FEATURES_LARGE
    _vectors: tuple[HashingVectorizer, HashingVectorizer] = field(init=False)

    def __post_init__(self) -> None:
        self._vectors = _vectorizers(self.sizes)

    def features(self, texts: list[str]) -> csr_matrix:
        words, chars = self._vectors
        clipped = [t[:TEXT_MAX] for t in texts]
        return csr_matrix(hstack([words.transform(clipped), chars.transform(clipped)]))

    def proba(self, texts: list[str]) -> np.ndarray[Any, Any]:
        return self.proba_of(self.features(texts))

    def proba_of(self, x: csr_matrix) -> np.ndarray[Any, Any]:
        scores = np.asarray(self.model.decision_function(x), dtype=float)
        if scores.ndim == 1:  # two classes: one score for the second
            scores = np.column_stack([-scores / 2, scores / 2])
        return _softmax(scores / self.temperature)

    def distribution(self, text: str) -> dict[str, float]:
        """Each category's probability for one text."""
        row = self.proba([text])[0]
        return {c: float(p) for c, p in zip(self.classes, row, strict=True)}

    def top(self, text: str, k: int = TOP) -> list[tuple[str, float]]:
        """The k likeliest categories with their probabilities, best first."""
        return sorted(self.distribution(text).items(), key=lambda kv: -kv[1])[:k]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer, compress=3)
        return buffer.getvalue()

    @staticmethod
    def from_bytes(blob: bytes) -> Classifier:
        # A pickle: loaded only from our own database's hotline_model table (see docs).
        loaded = joblib.load(io.BytesIO(blob))
        if not isinstance(loaded, Classifier):
            raise TypeError("hotline_model.blob does not hold a classifier")
        return loaded


def department_confidence(proba: dict[str, float]) -> dict[str, float]:
    """The confidence in each department: the sum of its categories' probabilities."""
    by_department: dict[str, float] = {}
    for code, p in proba.items():
        node = LEAVES.get(code)
        if node is not None and node.department:
            by_department[node.department] = by_department.get(node.department, 0.0) + p
    return by_department


def fit_temperature(scores: np.ndarray[Any, Any], truth: np.ndarray[Any, Any]) -> float:
    """The temperature that minimises the log loss of softmax(scores / T) on held-back rows."""
    if len(truth) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        p = _softmax(scores / math.exp(log_t))
        picked = p[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())

    found = minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded")
    return float(math.exp(found.x))


@dataclass(frozen=True)
class Trained:
    classifier: Classifier
    metrics: dict[str, Any]

    @property
    def beats_baseline(self) -> bool:
        m = self.metrics
        return bool(
            m["accuracy"] > m["baseline_accuracy"] and m["macro_f1"] > m["baseline_macro_f1"]
        )


def _split(
    indices: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], share: float, seed: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    counts = Counter(labels[indices].tolist())
    stratify = labels[indices] if min(counts.values()) >= 2 else None
    first, second = train_test_split(indices, test_size=share, random_state=seed, stratify=stratify)
    return np.asarray(first), np.asarray(second)


def train(texts: list[str], labels: list[str], *, seed: int = 0) -> Trained:
    """Fit on most of the orders, calibrate on a slice, measure on a held-out split.

    The metrics compare the model with the majority-class baseline on the same held-out
    orders; the caller ships the model only if it beats the baseline on both."""
    if len(texts) != len(labels):
        raise ValueError("one label per text")
    if len(texts) < MIN_ORDERS or len(set(labels)) < MIN_CLASSES:
        raise TooFewOrders(
            f"training needs at least {MIN_ORDERS} closed orders in at least {MIN_CLASSES} "
            f"categories; there are {len(texts)} in {len(set(labels))}"
        )
    started = time.perf_counter()
    y = np.asarray(labels)
    everything = np.arange(len(texts))
    learn, held_out = _split(everything, y, HELD_OUT, seed)
    fit_rows, calibration_rows = _split(learn, y, CALIBRATION, seed + 1)
    classes = sorted(set(y[fit_rows].tolist()))
    classifier = Classifier(
        model=SGDClassifier(
            loss="log_loss", alpha=2e-6, max_iter=5, tol=None, random_state=seed, n_jobs=1
        ),
        temperature=1.0,
        classes=classes,
        sizes=FEATURES_SMALL if len(texts) < SMALL_BELOW else FEATURES_LARGE,
    )
    x = classifier.features(texts)
    featurised = time.perf_counter() - started
    classifier.model.fit(x[fit_rows], y[fit_rows])
    classifier.classes = [str(c) for c in classifier.model.classes_]
    index = {c: i for i, c in enumerate(classifier.classes)}
    known = np.asarray([label in index for label in y[calibration_rows]], dtype=bool)
    calibration_rows = calibration_rows[known]
    raw = np.asarray(classifier.model.decision_function(x[calibration_rows]), dtype=float)
    if raw.ndim == 1:
        raw = np.column_stack([-raw / 2, raw / 2])
    truth = np.asarray([index[label] for label in y[calibration_rows]], dtype=int)
    classifier.temperature = fit_temperature(raw, truth)
    if classifier.model.coef_.size and np.count_nonzero(classifier.model.coef_) < (
        classifier.model.coef_.size // 2
    ):
        classifier.model.sparsify()  # most hashed buckets unseen: keep the blob small
    predicted = [classifier.classes[i] for i in classifier.proba_of(x[held_out]).argmax(axis=1)]
    actual = y[held_out].tolist()
    majority = Counter(y[learn].tolist()).most_common(1)[0][0]
    baseline = [majority] * len(actual)
    metrics: dict[str, Any] = {
        "macro_f1": round(float(f1_score(actual, predicted, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(actual, predicted)), 4),
        "baseline_macro_f1": round(
            float(f1_score(actual, baseline, average="macro", zero_division=0)), 4
        ),
        "baseline_accuracy": round(float(accuracy_score(actual, baseline)), 4),
        "majority_class": majority,
        "trained": len(fit_rows),
        "calibrated": len(calibration_rows),
        "held_out": len(held_out),
        "classes": len(classifier.classes),
        "temperature": round(classifier.temperature, 4),
        "featurise_seconds": round(featurised, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Trained(classifier, metrics)


def char_cosine(a: str, b: str) -> float:
    """Cosine of the two texts' character bigram counts (1-grams for one-character texts)."""

    def grams(text: str) -> Counter[str]:
        clean = "".join(ch for ch in text[:TEXT_MAX].lower() if ch.isalnum())
        if len(clean) < 2:
            return Counter(clean)
        return Counter(clean[i : i + 2] for i in range(len(clean) - 1))

    ga, gb = grams(a), grams(b)
    if not ga or not gb:
        return 0.0
    dot = sum(n * gb[g] for g, n in ga.items() if g in gb)
    norm = math.sqrt(sum(n * n for n in ga.values())) * math.sqrt(sum(n * n for n in gb.values()))
    return dot / norm if norm else 0.0
