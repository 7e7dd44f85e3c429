"""Pairwise-masking secure aggregation: SecAgg (Bonawitz et al. CCS 2017) and
SecAgg+ (Bell et al. CCS 2020), with dropout recovery at every round.

Top floor: :func:`simulate` and the float codec :class:`FixedPointCodec`.
Embedding floor: :class:`SessionConfig`, :class:`Client`, :class:`Server` and
the message classes in :mod:`secagg.messages`, moved by the caller.
"""

from secagg.client import Client
from secagg.config import SessionConfig
from secagg.encoding import FixedPointCodec
from secagg.errors import (
    ConfigurationError,
    ConsistencyError,
    EncodingError,
    ForgedSharesError,
    InvalidMessageError,
    ProtocolError,
    RefusedRequestError,
    StateError,
    TooFewSurvivorsError,
)
from secagg.graph import default_threshold, recommended_degree
from secagg.noise import NoiseSampler, excess_components
from secagg.plan import SessionPlan, plan_session
from secagg.server import Server, UnmaskedSum
from secagg.simulate import AggregateResult, simulate
from secagg.stage import Stage
from secagg.threat_model import GraphParameters, graph_parameters

__all__ = [
    "AggregateResult",
    "Client",
    "ConfigurationError",
    "ConsistencyError",
    "EncodingError",
    "FixedPointCodec",
    "ForgedSharesError",
    "GraphParameters",
    "InvalidMessageError",
    "NoiseSampler",
    "ProtocolError",
    "RefusedRequestError",
    "Server",
    "SessionConfig",
    "SessionPlan",
    "Stage",
    "StateError",
    "TooFewSurvivorsError",
    "UnmaskedSum",
    "default_threshold",
    "excess_components",
    "graph_parameters",
    "plan_session",
    "recommended_degree",
    "simulate",
]
