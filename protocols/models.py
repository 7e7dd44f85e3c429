"""Small torch models for the FedAvg driver: logistic regression and an MLP."""

from __future__ import annotations

import torch
from torch import nn

MODELS = ("logreg", "mlp")


def logistic_regression(num_features: int, num_classes: int) -> nn.Module:
    """Multinomial logistic regression (one linear layer; softmax lives in the loss)."""
    return nn.Sequential(nn.Linear(num_features, num_classes))


def mlp(num_features: int, num_classes: int, hidden: tuple[int, ...] = (128, 64)) -> nn.Module:
    """A ReLU multilayer perceptron; hidden sizes choose the parameter count."""
    layers: list[nn.Module] = []
    width = num_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def bench_mlp(num_features: int = 64, num_classes: int = 10) -> nn.Module:
    """The ~100k-parameter MLP used by `benchmarks/fedavg_bench.py` (64-256-256-64-10)."""
    return mlp(num_features, num_classes, hidden=(256, 256, 64))


def build_model(name: str, num_features: int, num_classes: int, seed: int = 0) -> nn.Module:
    """Construct a named model with seeded initial weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "logreg":
            return logistic_regression(num_features, num_classes)
        if name == "mlp":
            return mlp(num_features, num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
