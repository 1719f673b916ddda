"""Seeded train/validation splits for data that comes in one piece (digits, your own files, reviews).

Kept apart from any one data source so every source splits the same way, and a
source never imports another just for this helper.
"""

from __future__ import annotations

import numpy as np


def split_indices(n: int, train_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffled split from a private Generator, leaving global RNGs alone.

    Both parts keep at least one sample, so tiny data still trains and validates.
    """
    order = np.random.default_rng(seed).permutation(n)
    n_train = min(max(round(n * train_ratio), 1), n - 1)
    return order[:n_train], order[n_train:]
