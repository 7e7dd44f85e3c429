"""Client-side local training: a few epochs of minibatch SGD from the global model.

This is ClientUpdate of FedAvg (McMahan et al., AISTATS 2017, Algorithm 1):
each sampled client starts from the current global weights, runs E epochs of
SGD with batch size B on its own data, and returns its new weights; the
driver turns them into the update delta = local - global.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from protocols.datasets import ClientData
from protocols.flatten import Layout, from_vector, to_vector


@dataclass(frozen=True)
class LocalConfig:
    """Local training hyper-parameters (E, B and the client learning rate)."""

    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.1

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("local epochs and batch size must be >= 1 and lr > 0")


def local_update(
    model: nn.Module,
    global_vector: np.ndarray,
    layout: Layout,
    data: ClientData,
    config: LocalConfig,
    seed: int,
) -> np.ndarray:
    """Train `model` from `global_vector` on `data`; return local - global as float64."""
    model.load_state_dict(from_vector(global_vector, layout))
    model.train()
    features = torch.from_numpy(data.features)
    labels = torch.from_numpy(data.labels)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(config.epochs):
        order = torch.randperm(data.size, generator=generator)
        for start in range(0, data.size, config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss_fn(model(features[batch]), labels[batch]).backward()
            optimizer.step()
    return to_vector(model.state_dict(), layout) - global_vector


def evaluate(
    model: nn.Module, vector: np.ndarray, layout: Layout, features: np.ndarray, labels: np.ndarray
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of the weights `vector` on a labelled set."""
    model.load_state_dict(from_vector(vector, layout))
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(features))
        target = torch.from_numpy(labels)
        loss = nn.functional.cross_entropy(logits, target).item()
        accuracy = (logits.argmax(dim=1) == target).double().mean().item()
    return accuracy, loss
