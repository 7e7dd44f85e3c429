"""The hospitals' ClientApp: local training, then the protection the run chose (run config ``aggregator``)."""

from __future__ import annotations

import numpy as np
from flwr.app import Context, Message
from flwr.client import NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable

from hospitals import task
from protocols.flower import he_mod, secagg_mod

MODS = {
    "secagg+": secagg_mod,
    "secagg+dp": secagg_mod,
    "ckks": he_mod,
    "paillier": he_mod,
    "flower-secagg+": secaggplus_mod,
}


class Hospital(NumPyClient):
    def __init__(self, features: np.ndarray, labels: np.ndarray, epochs: int, lr: float) -> None:
        self.features, self.labels, self.epochs, self.lr = features, labels, epochs, lr

    def fit(self, parameters: list[np.ndarray], config: dict) -> tuple[list[np.ndarray], int, dict]:
        return task.train(parameters, self.features, self.labels, self.epochs, self.lr), len(self.labels), {}


def client_fn(context: Context):
    features, labels = task.partition(
        int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])
    )
    epochs, lr = int(context.run_config["local-epochs"]), float(context.run_config["learning-rate"])
    return Hospital(features, labels, epochs, lr).to_client()


def protection_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """The client side of the run's aggregator (none for ``plain``)."""
    mod = MODS.get(str(ctxt.run_config["aggregator"]))
    return call_next(msg, ctxt) if mod is None else mod(msg, ctxt, call_next)


app = ClientApp(client_fn=client_fn, mods=[protection_mod])
