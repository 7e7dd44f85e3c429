"""The server side of homomorphic aggregation on Flower: the ServerApp only adds ciphertexts.

``DefaultWorkflow(fit_workflow=HEWorkflow("ckks", key_holder=node_id))`` with ``he_mod`` on every
node. The secret key is generated on the key holder node (a SuperNode the deployment designates;
it may train too) and stays in that node's Context; the ServerApp receives the public key only,
sends it to the sampled clients with their FitIns, adds the ciphertexts it gets back (CKKS through
TenSEAL, packed Paillier through phe; `he`), and sends the aggregate to the key holder, which
returns the plaintext weighted sum. A round costs two exchanges (fit and decryption), the first one
more for key generation. A client whose ciphertext is missing or does not parse is left out; fewer
than ``min_clients`` ciphertexts, or no answer from the key holder, halt the round with the model
unchanged. The workflow object never holds a secret key.

``HEWorkflow("threshold-paillier", key_holders=(...), decrypt_threshold=t)`` removes the single key
holder: the first of ``key_holders`` deals a t-of-k threshold Paillier key whose shares reach the
other holders sealed (`protocols.flower.he_committee`: three exchanges once per run), and each round
every holder is asked for its partial decryption of the aggregate in one exchange; any t whose proofs
verify are combined here (`he.ThresholdPaillierPublic.combine`, public data only), a holder whose proof
fails is named in the log and the outcome, and fewer than t valid partials halt the round.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from logging import ERROR, INFO

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.common import FitIns, FitRes, log, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext
from flwr.server.client_proxy import ClientProxy
from flwr.serverapp.grid import Grid

import he
from fedsecure.errors import FedsecureError
from protocols.aggregators.base import AggregationError
from protocols.aggregators.weighting import weighted_mean
from protocols.flower import he_committee
from protocols.flower.fit import apply_mean, current_round, flat_length, global_parameters, record_outcome, round_trip
from protocols.flower.he_node import DECRYPT, ENCRYPT, KEYGEN, RECORD
from protocols.flower.workflow import DEFAULT_TIMEOUT
from secagg.errors import InvalidMessageError

SCHEMES = ("ckks", "paillier", "threshold-paillier")
Public = he.CKKSPublic | he.PaillierPublic | he.ThresholdPaillierPublic


@dataclass
class _Round:
    round: int
    exchanges: int = 0
    results: dict[int, tuple[ClientProxy, FitRes]] = field(default_factory=dict)
    ciphertexts: dict[int, he.CKKSCiphertext | he.PaillierCiphertext] = field(default_factory=dict)
    bytes_up: dict[int, int] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    refused_holders: dict[int, str] = field(default_factory=dict)


class HEWorkflow:
    """Fit workflow aggregating encrypted updates; clients need ``he_mod``.

    ``scheme``: ``"ckks"`` (``preset``), ``"paillier"`` or ``"threshold-paillier"`` (``key_bits``, ``bits``,
    ``fast_encryption``). ``key_holder``: the Flower node id that generates and keeps the secret key;
    under ``"threshold-paillier"``, ``key_holders`` (node ids, the first deals) and ``decrypt_threshold``
    (any that many decrypt together) instead. ``max_clients``
    bounds the clients of one round (CKKS clients scale by ``1 / max_clients``; Paillier's packing
    headroom is sized for it); ``clip`` bounds every encrypted value; ``max_weight`` normalizes
    example counts as in `SecAggWorkflow`.
    """

    def __init__(
        self,
        scheme: str = "ckks",
        *,
        key_holder: int | None = None,
        key_holders: Sequence[int] = (),
        decrypt_threshold: int | None = None,
        max_clients: int = 100,
        min_clients: int = 2,
        clip: float = 1.0,
        max_weight: float = 1000.0,
        preset: str = "standard",
        key_bits: int = 3072,
        bits: int = 16,
        fast_encryption: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if scheme not in SCHEMES:
            raise AggregationError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        if not (
            isinstance(max_clients, int) and max_clients >= 1 and isinstance(min_clients, int) and min_clients >= 1
        ):
            raise AggregationError(
                f"max_clients and min_clients must be positive integers, got {max_clients}, {min_clients}"
            )
        for name, value in (("clip", clip), ("max_weight", max_weight), ("timeout", timeout)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise AggregationError(f"{name} must be a positive finite number, got {value!r}")
        if scheme == "threshold-paillier":
            holders = tuple(key_holders)
            if key_holder is not None or not holders or len(set(holders)) != len(holders):
                raise AggregationError("threshold-paillier takes key_holders (distinct node ids), not key_holder")
            if not (isinstance(decrypt_threshold, int) and 1 <= decrypt_threshold <= len(holders)):
                raise AggregationError(f"decrypt_threshold must lie in [1, {len(holders)}], got {decrypt_threshold!r}")
        elif key_holder is None or key_holders or decrypt_threshold is not None:
            raise AggregationError(f"{scheme} takes one key_holder, not key_holders or decrypt_threshold")
        self.scheme, self.key_holder = scheme, key_holder
        self.key_holders, self.decrypt_threshold = tuple(key_holders), decrypt_threshold
        self.max_clients, self.min_clients = max_clients, min_clients
        self.clip, self.max_weight, self.timeout = float(clip), float(max_weight), float(timeout)
        self._keygen = {
            "scheme": scheme,
            "clip": self.clip,
            "preset": preset,
            "key_bits": key_bits,
            "bits": bits,
            "max_clients": max_clients,
            "fast_encryption": fast_encryption,
            "min_weight": min_clients * self.factor if scheme == "ckks" else float(min_clients),
        }
        self.public: Public | None = None
        """The public key the key holder sent: all the server ever holds."""

    @property
    def _holder(self) -> int:
        """The one key holder of CKKS and Paillier (``__init__`` requires it for those schemes)."""
        if self.key_holder is None:
            raise AggregationError(f"{self.scheme} has no single key holder")
        return self.key_holder

    @property
    def factor(self) -> float:
        """The public scale CKKS clients apply (``1 / max_clients``); 0 means none (Paillier)."""
        return 1.0 / self.max_clients if self.scheme == "ckks" else 0.0

    def __call__(self, grid: Grid, context: Context) -> None:
        if not isinstance(context, LegacyContext):
            raise TypeError(f"Expect a LegacyContext, but get {type(context).__name__}.")
        round_index, parameters = current_round(context), global_parameters(context)
        template = parameters_to_ndarrays(parameters)
        run = _Round(round_index)
        try:
            public = self.public or (self._deal_keys(grid, run) if self.key_holders else self._generate_keys(grid, run))
            instructions = context.strategy.configure_fit(round_index, parameters, context.client_manager)
            if len(instructions) > self.max_clients:
                raise AggregationError(f"{len(instructions)} clients sampled, more than max_clients={self.max_clients}")
            self._collect(grid, run, public, instructions, flat_length(template))
            if len(run.ciphertexts) < self.min_clients:
                raise AggregationError(f"{len(run.ciphertexts)} ciphertexts arrived, fewer than {self.min_clients}")
            aggregate = public.aggregate(list(run.ciphertexts.values()))  # type: ignore[arg-type]
            if isinstance(public, he.ThresholdPaillierPublic):
                total = self._threshold_decrypt(grid, run, public, aggregate)  # type: ignore[arg-type]
            else:
                total = self._decrypt(grid, run, aggregate.serialize(), 1 + flat_length(template))
            mean, total_weight = weighted_mean(total / (self.factor or 1.0), 0.0, self.max_weight, True)
        except FedsecureError as exc:
            log(ERROR, "[he round %s] halted: %s", round_index, exc)
            halted = {"round": round_index, "exchanges": run.exchanges, "status": "halted", "reason": str(exc)}
            record_outcome(context, {**halted, **self._refusals(run)})
            return
        included = sorted(run.ciphertexts)
        apply_mean(context, round_index, mean, template, [run.results[n] for n in included], run.failures)
        record_outcome(
            context,
            {
                "round": round_index,
                "exchanges": run.exchanges,
                "status": "completed",
                "included": included,
                "total_weight": total_weight,
                "scheme": self.scheme,
                "bytes_up_per_client": float(np.mean(list(run.bytes_up.values()))),
                **self._refusals(run),
            },
        )

    @staticmethod
    def _refusals(run: _Round) -> dict[str, object]:
        """Key holders whose partial decryption was refused this round: ``"node id: why"`` each."""
        refused = [f"{node}: {reason}" for node, reason in run.refused_holders.items()]
        return {"refused_holders": refused} if refused else {}

    def _ask(self, grid: Grid, run: _Round, messages: list[Message]) -> list[Message]:
        run.exchanges += 1
        return round_trip(grid, messages, self.timeout)

    def _message(self, node: int, record: dict[str, object], content: RecordDict | None = None) -> Message:
        body = content if content is not None else RecordDict()
        body.config_records[RECORD] = ConfigRecord(record)  # type: ignore[arg-type]
        return Message(content=body, dst_node_id=node, message_type=MessageType.TRAIN)

    def _answer(self, reply: Message, stage: str, name: str) -> bytes:
        value = self._answer_value(reply, stage, name)
        if not isinstance(value, bytes):
            raise InvalidMessageError(f"node {reply.metadata.src_node_id} sent no {name} bytes at {stage}")
        return value

    @staticmethod
    def _answer_value(reply: Message, stage: str, name: str) -> object:
        if reply.has_error():
            raise InvalidMessageError(f"node {reply.metadata.src_node_id}: {reply.error.reason}")
        record = reply.content.config_records.get(RECORD) if reply.has_content() else None
        value = record.get(name) if record is not None and record.get("stage") == stage else None
        if value is None:
            raise InvalidMessageError(f"node {reply.metadata.src_node_id} sent no {name} at {stage}")
        return value

    def _deal_keys(self, grid: Grid, run: _Round) -> he.ThresholdPaillierPublic:
        """Enroll every holder, have the first deal, deliver each sealed share (`he_committee`, 1-3)."""
        dealing_id = he_committee.new_dealing_id()
        enrolled = self._everyone(grid, run, {"stage": he_committee.ENROLL}, "public", "enrollment")
        options = {k: v for k, v in self._keygen.items() if k not in ("scheme", "preset", "min_weight")}
        deal: dict[str, object] = {
            "stage": he_committee.DEAL,
            "dealing_id": dealing_id,
            "holders": list(enrolled),
            **options,
        }
        deal["threshold"] = self.decrypt_threshold
        dealer = self.key_holders[0]
        replies = self._ask(grid, run, [self._message(dealer, deal)])
        try:
            if not replies:
                raise InvalidMessageError("no answer")
            public_bytes = self._answer(replies[0], he_committee.DEAL, "public")
            dealer_key = self._answer(replies[0], he_committee.DEAL, "dealer")
            sealed = replies[0].content.config_records[RECORD].get("sealed")
            if not isinstance(sealed, list) or len(sealed) != len(self.key_holders):
                raise InvalidMessageError(f"{len(self.key_holders)} sealed shares expected")
            public = he.load_public(public_bytes)
        except (InvalidMessageError, he.HEError) as exc:
            raise AggregationError(f"the dealer node {dealer} did not deal the threshold key: {exc}") from exc
        if not isinstance(public, he.ThresholdPaillierPublic) or public.holders != len(self.key_holders):
            raise AggregationError(f"the dealer node {dealer} sent a key that is not {len(self.key_holders)} holders'")
        accept: dict[str, object] = {
            "stage": he_committee.ACCEPT,
            "dealing_id": dealing_id,
            "dealer": dealer_key,
            "public": public_bytes,
        }
        accept["min_weight"] = self._keygen["min_weight"]
        messages = [
            self._message(node, {**accept, "index": index, "sealed": sealed[index - 1]})
            for index, node in enumerate(self.key_holders, start=1)
        ]
        self._everyone(grid, run, messages, "index", "key share")
        self.public = public
        log(INFO, "[he] %s-of-%s threshold Paillier key dealt by node %s", public.threshold, public.holders, dealer)
        return public

    def _everyone(self, grid: Grid, run: _Round, request: dict[str, object] | list[Message], name: str, what: str):
        """Every key holder's ``name`` reply to ``request``, in key-holder order; any missing halts the dealing."""
        messages = request if isinstance(request, list) else [self._message(n, request) for n in self.key_holders]
        stage = str(messages[0].content.config_records[RECORD].get("stage"))
        answers: dict[int, object] = {}
        for reply in self._ask(grid, run, messages):
            try:
                answers[reply.metadata.src_node_id] = self._answer_value(reply, stage, name)
            except InvalidMessageError as exc:
                raise AggregationError(f"threshold key setup, {what}: {exc}") from exc
        missing = sorted(set(self.key_holders) - set(answers))
        if missing:
            raise AggregationError(f"threshold key setup, {what}: no answer from key holder nodes {missing}")
        return [answers[node] for node in self.key_holders]

    def _threshold_decrypt(
        self, grid: Grid, run: _Round, public: he.ThresholdPaillierPublic, aggregate: he.PaillierCiphertext
    ) -> np.ndarray:
        """Ask every holder for its partial decryption (one exchange); combine any t that verify."""
        request: dict[str, object] = {"stage": he_committee.PARTIAL, "ciphertext": aggregate.serialize()}
        index = {node: i for i, node in enumerate(self.key_holders, start=1)}
        partials = {}
        for reply in self._ask(grid, run, [self._message(n, request) for n in self.key_holders]):
            node = reply.metadata.src_node_id
            if reply.has_error() or node not in index:
                continue  # an unavailable holder is missing, not refused (Flower's error replies carry no holder)
            try:
                partial = public.load_partial(self._answer(reply, he_committee.PARTIAL, "partial"))
                if partial.holder != index[node]:
                    raise InvalidMessageError(f"node {node} sent holder {partial.holder}'s partial decryption")
            except (InvalidMessageError, he.HEError) as exc:
                run.refused_holders[node] = str(exc)
                continue
            partials[node] = partial
        while True:
            try:
                return public.combine(aggregate, list(partials.values()))
            except he.InvalidPartialError as exc:  # names each refused holder index; the rest may suffice
                for node in [n for n, p in partials.items() if p.holder in exc.reasons]:
                    reason = run.refused_holders[node] = exc.reasons[partials.pop(node).holder]
                    log(ERROR, "[he round %s] key holder node %s refused: %s", run.round, node, reason)
            except he.TooFewPartialsError as exc:
                raise AggregationError(f"threshold decryption: {exc}") from exc

    def _generate_keys(self, grid: Grid, run: _Round) -> he.CKKSPublic | he.PaillierPublic:
        """Ask the key holder node for a fresh key pair; keep its public side only."""
        replies = self._ask(grid, run, [self._message(self._holder, {"stage": KEYGEN, **self._keygen})])
        if not replies:
            raise AggregationError(f"the key holder node {self.key_holder} did not answer key generation")
        try:
            public = he.load_public(self._answer(replies[0], KEYGEN, "public"))
        except InvalidMessageError as exc:
            raise AggregationError(f"the key holder node {self.key_holder} did not generate keys: {exc}") from exc
        if not isinstance(public, (he.CKKSPublic, he.PaillierPublic)):
            raise AggregationError(f"the key holder node {self.key_holder} sent a {type(public).__name__}")
        self.public = public
        log(INFO, "[he] %s public key from key holder node %s", self.scheme, self.key_holder)
        return public

    def _collect(
        self,
        grid: Grid,
        run: _Round,
        public: Public,
        instructions: list[tuple[ClientProxy, FitIns]],
        length: int,
    ) -> None:
        record = {
            "stage": ENCRYPT,
            "public": public.serialize(),
            "length": length,
            "max_weight": self.max_weight,
            "factor": self.factor,
        }
        proxies = {proxy.node_id: (proxy, ins) for proxy, ins in instructions}
        messages = [
            self._message(node, record, compat.fitins_to_recorddict(ins, True)) for node, (_, ins) in proxies.items()
        ]
        for reply in self._ask(grid, run, messages):
            node = reply.metadata.src_node_id
            try:
                if node not in proxies or node in run.ciphertexts:
                    raise InvalidMessageError(f"node {node} was not asked, or answered twice")
                ciphertext = self._answer(reply, ENCRYPT, "ciphertext")
                run.ciphertexts[node] = public.load_ciphertext(ciphertext)
            except FedsecureError as exc:
                run.failures.append(exc)
                continue
            run.bytes_up[node] = len(ciphertext)
            run.results[node] = (proxies[node][0], compat.recorddict_to_fitres(reply.content, keep_input=True))
        log(INFO, "[he round %s] %s of %s ciphertexts", run.round, len(run.ciphertexts), len(proxies))

    def _decrypt(self, grid: Grid, run: _Round, aggregate: bytes, length: int) -> np.ndarray:
        replies = self._ask(grid, run, [self._message(self._holder, {"stage": DECRYPT, "ciphertext": aggregate})])
        if not replies:
            raise AggregationError(f"the key holder node {self.key_holder} did not answer decryption")
        try:
            total = self._answer(replies[0], DECRYPT, "sum")
        except InvalidMessageError as exc:
            raise AggregationError(f"the key holder node {self.key_holder} did not decrypt: {exc}") from exc
        if len(total) != 8 * length:
            raise InvalidMessageError(f"the key holder returned {len(total)} bytes for {length} values")
        return np.frombuffer(total, dtype="<f8").astype(np.float64)
