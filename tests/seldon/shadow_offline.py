"""The shadow comparison recomputed offline, for the end-to-end test and `make demo-seldon`: the same
models as the gateway's predictors and shadow (FraudModel, trained as each model process trains it),
the same rows the client sent, and the contract's rule: a pair agrees when every row's most probable class
(the first on ties) is the same; abs_diff is the largest absolute difference of any probability, and
abs_diff_milli its × 1000, rounded half away from zero, summed over the compared pairs.

    stdin:  {"rows": [[...], ...], "served": ["xgb", "rf", ...], "shadow": "rf-v2"}
    stdout: {"<served>": {"agree": n, "disagree": n, "abs_diff_milli": n}, ...}
"""
import json
import math
import os
import sys

import numpy as np


def model(kind):
    os.environ["MODEL_KIND"] = kind
    os.environ.pop("FEEDBACK_COUNT_FILE", None)
    from FraudModel import FraudModel

    return FraudModel()


def first_argmax(row):
    best = 0
    for i, p in enumerate(row):
        if p > row[best]:
            best = i
    return best


def main():
    request = json.load(sys.stdin)
    rows = np.asarray(request["rows"], dtype=float)
    served = request["served"]
    # Each answer as the gateway reads it: the model's probabilities through JSON, as floats.
    as_json = lambda probabilities: json.loads(json.dumps(np.asarray(probabilities).tolist()))
    shadow = as_json(model(request["shadow"]).predict(rows))
    answers = {kind: as_json(model(kind).predict(rows)) for kind in sorted(set(served))}
    totals = {kind: {"agree": 0, "disagree": 0, "abs_diff_milli": 0} for kind in answers}
    for i, kind in enumerate(served):
        mine, theirs = answers[kind][i], shadow[i]
        agree = first_argmax(mine) == first_argmax(theirs)
        diff = max(abs(a - b) for a, b in zip(mine, theirs))
        totals[kind]["agree" if agree else "disagree"] += 1
        totals[kind]["abs_diff_milli"] += math.floor(diff * 1000.0 + 0.5)
    json.dump(totals, sys.stdout)


if __name__ == "__main__":
    main()
