"""The shadow comparison recomputed offline from the same model files and rows, for the model-server
end-to-end tests: what the gateway must have counted per served predictor.

    stdin:  {"dir": DIR, "rows": [[...], ...], "served": ["xgb", "rf", ...], "shadow": "rf-v2",
             "output": "predict_proba" | "predict"}
    stdout: {"<served>": {"agree": n, "disagree": n, "abs_diff_milli": n}, ...}

predict_proba: rows of class probabilities, agreeing when every row's most probable class (the first on
ties) is the same, abs_diff the largest difference of any probability. predict: one label per row,
agreeing when equal, abs_diff the largest difference of labels. abs_diff_milli is abs_diff × 1000,
rounded half away from zero, summed over the compared pairs. Each answer goes through JSON as the
servers send it (float32 probabilities as the floats they are).
"""
import json
import math
import os
import sys

import numpy as np

from models import load

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seldon"))
from shadow_offline import first_argmax  # noqa: E402  (the rule the Seldon test recomputes with)


def answers(model, rows, output):
    values = model.predict_proba(rows) if output == "predict_proba" else model.predict(rows)
    return json.loads(json.dumps(np.asarray(values).tolist()))


def main():
    request = json.load(sys.stdin)
    rows = np.asarray(request["rows"], dtype=float)
    output = request["output"]
    folder = request["dir"]
    # Each row was sent alone: one answer of one row per request.
    def one_by_one(kind):
        model = load(folder, kind)
        return [answers(model, rows[i : i + 1], output)[0] for i in range(len(rows))]

    shadow = one_by_one(request["shadow"])
    served = request["served"]
    mine = {kind: one_by_one(kind) for kind in sorted(set(served))}
    totals = {kind: {"agree": 0, "disagree": 0, "abs_diff_milli": 0} for kind in mine}
    for i, kind in enumerate(served):
        a, b = mine[kind][i], shadow[i]
        if output == "predict_proba":
            agree = first_argmax(a) == first_argmax(b)
            diff = max(abs(x - y) for x, y in zip(a, b))
        else:
            agree = a == b
            diff = abs(a - b)
        totals[kind]["agree" if agree else "disagree"] += 1
        totals[kind]["abs_diff_milli"] += math.floor(min(diff, 1000.0) * 1000.0 + 0.5)
    json.dump(totals, sys.stdout)


if __name__ == "__main__":
    main()
