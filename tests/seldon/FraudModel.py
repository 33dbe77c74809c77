"""A Seldon Core v1 Python model (`seldon-core-microservice FraudModel`) for the fraud-detection A/B
test: MODEL_KIND=xgb serves an XGBoost classifier, MODEL_KIND=rf a scikit-learn random forest, both
trained at start on fraud_data.py's synthetic data set (seconds). MODEL_KIND=rf-shuffled is a
deliberately bad canary: a random forest trained on shuffled labels (balanced class weights, so that it
calls about half of all transactions fraud), for the rollout guard to catch. MODEL_KIND=rf-v2 is the
shadow of the shadow comparison: a deeper forest that disagrees with the served models on some rows
(shadow_offline.py computes on which, from the same rows and the same models).

Seldon calls `predict` for /api/v1.0/predictions and `send_feedback` for /api/v1.0/feedback. Every
feedback call is counted, and the count written to FEEDBACK_COUNT_FILE, so that the demo can show
what each model process received through the gateway.
"""
import os
import threading

import numpy as np

from fraud_data import training_rows


class FraudModel:
    def __init__(self):
        self.kind = os.environ.get("MODEL_KIND", "xgb")
        self.count_file = os.environ.get("FEEDBACK_COUNT_FILE")
        self.feedback = 0
        self.rewards = 0.0
        self.lock = threading.Lock()
        X, y = training_rows()
        if self.kind == "xgb":
            from xgboost import XGBClassifier

            self.model = XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, n_jobs=1, random_state=7)
        elif self.kind == "rf-shuffled":
            from sklearn.ensemble import RandomForestClassifier

            y = np.random.RandomState(7).permutation(y)
            self.model = RandomForestClassifier(
                n_estimators=5, max_depth=3, random_state=7, n_jobs=1, class_weight="balanced"
            )
        elif self.kind == "rf-v2":
            # The next candidate, tried as a shadow: more and deeper trees, another seed (few enough that
            # it keeps up with a copy of every prediction: 30 trees took 9 ms a row and fell behind).
            from sklearn.ensemble import RandomForestClassifier

            self.model = RandomForestClassifier(n_estimators=12, max_depth=6, random_state=11, n_jobs=1)
        else:
            # The new candidate: a small forest, quick to serve, not as good on this data.
            from sklearn.ensemble import RandomForestClassifier

            self.model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=7, n_jobs=1)
        self.model.fit(X, y)
        self.write_count()

    def predict(self, X, features_names=None):
        # Probability of [legitimate, fraud] per row.
        return self.model.predict_proba(np.asarray(X, dtype=float))

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        with self.lock:
            self.feedback += 1
            self.rewards += float(reward or 0.0)
            self.write_count()
        return []

    def tags(self):
        return {"model": self.kind}

    def write_count(self):
        if self.count_file:
            tmp = self.count_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{self.feedback} {self.rewards}\n")
            os.replace(tmp, self.count_file)
