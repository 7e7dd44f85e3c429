"""The FedAvg driver: secure, private federated training end to end.

Thin by design: it owns the training loop and nothing cryptographic. Every
protection scheme is reached through one interface, `SecureAggregator`
(`PlainAggregator`, `SecAggAggregator` for SecAgg / SecAgg+,
`ckks_aggregator`, `paillier_aggregator`), and privacy through `Privacy`
(`NoPrivacy`, or DP-FedAvg's `CentralDP` / `DistributedDP`).

    data = load_federated("breast_cancer", clients=10, alpha=0.5)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, weights = run_fedavg(model, data, SecAggAggregator(10, degree=6),
                                  FedAvgConfig(rounds=10, dropout=0.1))
"""

from protocols.aggregators.base import (
    AggregationAborted,
    AggregationError,
    AggregationOutcome,
    Cost,
    PlainAggregator,
    SecureAggregator,
    Stage,
)
from protocols.aggregators.homomorphic import HEAggregator, ckks_aggregator, paillier_aggregator
from protocols.aggregators.masking import SecAggAggregator, default_degree
from protocols.datasets import ClientData, DatasetError, FederatedDataset, load_federated
from protocols.dpfedavg import CentralDP, DistributedDP, build_privacy
from protocols.fedavg import FedAvg, FedAvgConfig, run_fedavg
from protocols.flatten import Layout, LayoutError, from_vector, to_vector
from protocols.history import History, RoundRecord
from protocols.local import LocalConfig
from protocols.models import bench_mlp, build_model
from protocols.privacy import NoPrivacy, Privacy
from protocols.step import aggregate_state_dicts

__all__ = [
    "AggregationAborted",
    "AggregationError",
    "AggregationOutcome",
    "CentralDP",
    "ClientData",
    "Cost",
    "DatasetError",
    "DistributedDP",
    "Stage",
    "FedAvg",
    "FedAvgConfig",
    "FederatedDataset",
    "HEAggregator",
    "History",
    "Layout",
    "LayoutError",
    "LocalConfig",
    "NoPrivacy",
    "PlainAggregator",
    "Privacy",
    "RoundRecord",
    "SecAggAggregator",
    "SecureAggregator",
    "aggregate_state_dicts",
    "bench_mlp",
    "build_privacy",
    "build_model",
    "ckks_aggregator",
    "default_degree",
    "from_vector",
    "load_federated",
    "paillier_aggregator",
    "run_fedavg",
    "to_vector",
]
