"""The FedAvg driver: secure, private federated training end to end.

Thin by design: it owns the training loop and nothing cryptographic. Every
protection scheme is reached through one interface, `SecureAggregator`
(`PlainAggregator`, `SecAggAggregator` for SecAgg / SecAgg+,
`ckks_aggregator`, `paillier_aggregator`), and privacy through `Privacy`
(`NoPrivacy`, or DP-FedAvg's `CentralDP` / `DistributedDP` / `XNoiseDP`).

    data = load_federated("breast_cancer", clients=10, alpha=0.5)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, weights = run_fedavg(model, data, SecAggAggregator(10, degree=6),
                                  FedAvgConfig(rounds=10, dropout=0.1))

Every name below is imported on first use, so ``import protocols.flower`` (a Flower
ClientApp's start) loads neither torch nor scikit-learn nor TenSEAL.
"""

from fedsecure.lazy import lazy_exports

_EXPORTS = {
    "AggregationAborted": "protocols.aggregators.base",
    "AggregationError": "protocols.aggregators.base",
    "AggregationOutcome": "protocols.aggregators.base",
    "CentralDP": "protocols.dpfedavg",
    "ClientData": "protocols.datasets",
    "Cost": "protocols.aggregators.base",
    "DatasetError": "protocols.datasets",
    "DistributedDP": "protocols.dpfedavg",
    "DistrustedHolderWarning": "protocols.aggregators.threshold",
    "FedAvg": "protocols.fedavg",
    "FedAvgConfig": "protocols.fedavg",
    "FederatedDataset": "protocols.datasets",
    "HEAggregator": "protocols.aggregators.homomorphic",
    "History": "protocols.history",
    "Layout": "protocols.flatten",
    "LayoutError": "protocols.flatten",
    "LocalConfig": "protocols.local",
    "NoPrivacy": "protocols.privacy",
    "PlainAggregator": "protocols.aggregators.base",
    "Privacy": "protocols.privacy",
    "RoundRecord": "protocols.history",
    "SecAggAggregator": "protocols.aggregators.masking",
    "SecureAggregator": "protocols.aggregators.base",
    "Stage": "protocols.aggregators.base",
    "ThresholdKeyHolders": "protocols.aggregators.threshold",
    "XNoiseDP": "protocols.dpfedavg",
    "aggregate_state_dicts": "protocols.step",
    "bench_mlp": "protocols.models",
    "build_model": "protocols.models",
    "build_privacy": "protocols.dpfedavg",
    "ckks_aggregator": "protocols.aggregators.homomorphic",
    "default_degree": "protocols.aggregators.masking",
    "from_vector": "protocols.flatten",
    "load_federated": "protocols.datasets",
    "paillier_aggregator": "protocols.aggregators.homomorphic",
    "run_fedavg": "protocols.fedavg",
    "to_vector": "protocols.flatten",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
