"""The seed's fraud models as files, for the model servers that load files (MLServer, KServe): each
trained exactly as the Seldon Core microservice trains it (tests/seldon/FraudModel.py, fixed seeds), then
saved, with MLServer's model-settings.json beside each.

    python save_models.py DIR      writes DIR/<kind>/model.{json,joblib} and DIR/<kind>/model-settings.json

xgb is saved in XGBoost's own JSON format (what mlserver-xgboost loads), the random forests with joblib
(what mlserver-sklearn loads); offline.py and kserve_server.py load the same files.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seldon"))

KINDS = ["xgb", "rf", "rf-v2"]


def train(kind):
    os.environ["MODEL_KIND"] = kind
    os.environ.pop("FEEDBACK_COUNT_FILE", None)
    from FraudModel import FraudModel

    return FraudModel().model


def main(out):
    import joblib

    for kind in KINDS:
        folder = os.path.join(out, kind)
        os.makedirs(folder, exist_ok=True)
        model = train(kind)
        if kind == "xgb":
            uri, implementation = "model.json", "mlserver_xgboost.XGBoostModel"
            model.save_model(os.path.join(folder, uri))
        else:
            uri, implementation = "model.joblib", "mlserver_sklearn.SKLearnModel"
            joblib.dump(model, os.path.join(folder, uri))
        settings = {"name": kind, "implementation": implementation, "parameters": {"uri": "./" + uri, "version": "v1"}}
        with open(os.path.join(folder, "model-settings.json"), "w") as f:
            json.dump(settings, f)


if __name__ == "__main__":
    main(sys.argv[1])
