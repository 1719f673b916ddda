"""Synthetic bag-of-words "reviews": offline data on which overfitting shows as on IMDB.

The textbook overfitting study trains a smaller, a baseline and a bigger model
on IMDB reviews as multi-hot word vectors.  IMDB needs a download, so this
generates data of the same kind, from the seed alone: 4,000 "reviews" over a
1,000-word vocabulary with Zipf-like word frequencies; a fifth of the words
carry a sentiment weight and a review is positive when the (length-normalised)
sum of its words' weights is above the median.  ``data.noise`` flips that share
of the labels.  The signal is real but needs many samples to learn, so a
512-512 network memorises the 2,000 training reviews within a few epochs and its
validation loss turns up, while a 4-4 network is still improving at epoch 20
(numbers in README.md, "The overfitting study").
"""

from __future__ import annotations

import numpy as np

from tui_trainer.core.config import Config
from tui_trainer.data.datasets import Dataset
from tui_trainer.data.splitting import split_indices

VOCABULARY = 1_000
SAMPLES = 4_000
SENTIMENT_SHARE = 0.2
MEAN_WORDS = 70


def generate(samples: int, vocabulary: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot reviews (samples, vocabulary) float32 and ±1 labels (samples, 1) float32."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / (np.arange(vocabulary) + 10.0)  # Zipf-like: a few very common words
    freq /= freq.sum()
    weights = rng.normal(0.0, 1.0, vocabulary) * (rng.random(vocabulary) < SENTIMENT_SHARE)
    lengths = 10 + rng.poisson(MEAN_WORDS - 10, samples)
    words = rng.choice(vocabulary, size=int(lengths.sum()), p=freq)
    docs = np.repeat(np.arange(samples), lengths)
    x = np.zeros((samples, vocabulary), np.float32)
    x[docs, words] = 1.0
    score = (x @ weights) / np.sqrt(lengths)
    y = np.where(score > np.median(score), 1.0, -1.0)
    y[rng.random(samples) < noise] *= -1.0
    return x, y.astype(np.float32).reshape(-1, 1)


def load_reviews(cfg: Config) -> Dataset:
    d = cfg.data
    x, y = generate(SAMPLES, VOCABULARY, d.noise, d.seed)
    train, val = split_indices(len(x), d.train_ratio, d.seed)
    return Dataset(
        name="reviews",
        task="binary",
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        feature_names=("words",),
        notes=(
            f"synthetic bag-of-words reviews (offline stand-in for IMDB): {len(train)} train / {len(val)} validation, "
            f"{VOCABULARY:,}-word multi-hot vectors, {d.noise:g} of the labels flipped",
        ),
    )
