"""KServe's own model server (the `kserve` package) serving the fraud models over KServe v1: each a
`kserve.Model` that loads the file save_models.py wrote and answers `{"predictions": [...]}` with each
instance's class probabilities.

    python kserve_server.py DIR HTTP_PORT GRPC_PORT

POST /v1/models/<kind>:predict with {"instances": [[...features...], ...]}.
"""
import sys

import numpy as np
import kserve

from models import load


class FraudModel(kserve.Model):
    def __init__(self, name, folder):
        super().__init__(name)
        self.folder = folder
        self.load()

    def load(self):
        self.model = load(self.folder, self.name)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        rows = np.asarray(payload["instances"], dtype=float)
        return {"predictions": self.model.predict_proba(rows).tolist()}


if __name__ == "__main__":
    folder, http_port, grpc_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    models = [FraudModel(kind, folder) for kind in ("xgb", "rf", "rf-v2")]
    kserve.ModelServer(http_port=http_port, grpc_port=grpc_port, enable_grpc=False, workers=1).start(models)
