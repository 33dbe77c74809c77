"""Loads the files save_models.py wrote: the XGBoost classifier from its JSON, the forests with joblib."""
import os

import joblib


def load(folder, kind):
    if kind == "xgb":
        from xgboost import XGBClassifier

        model = XGBClassifier()
        model.load_model(os.path.join(folder, kind, "model.json"))
        return model
    return joblib.load(os.path.join(folder, kind, "model.joblib"))
