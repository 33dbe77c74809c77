"""The synthetic fraud data set of `make demo-seldon` and its end-to-end test: imbalanced (about 1 in
10 transactions is fraud), noisy, fixed seed, made in milliseconds by scikit-learn. The models train
on the first TRAIN rows; the client sends the rest and knows their labels.

    python fraud_data.py            prints the held-out rows as JSON: {"rows": [[...], ...], "labels": [...]}
"""
import json
import sys

from sklearn.datasets import make_classification

ROWS = 6000
TRAIN = 4000


def dataset():
    return make_classification(
        n_samples=ROWS,
        n_features=12,
        n_informative=6,
        n_redundant=2,
        weights=[0.9],
        flip_y=0.03,
        class_sep=0.8,
        random_state=7,
    )


def training_rows():
    X, y = dataset()
    return X[:TRAIN], y[:TRAIN]


def held_out_rows():
    X, y = dataset()
    return X[TRAIN:], y[TRAIN:]


if __name__ == "__main__":
    X, y = held_out_rows()
    json.dump({"rows": [[round(float(v), 6) for v in row] for row in X], "labels": [int(v) for v in y]}, sys.stdout)
