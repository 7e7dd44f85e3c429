"""Our secure aggregation inside Flower (flwr 1.42): a drop-in for Flower's SecAgg+.

Server: ``DefaultWorkflow(fit_workflow=SecAggWorkflow(...))`` where Flower's
``SecAggPlusWorkflow`` would go. Clients: ``ClientApp(client_fn, mods=[secagg_mod])``
where ``secaggplus_mod`` would go. Homomorphic aggregation: ``HEWorkflow`` with ``he_mod``.
Importing this package imports flwr (the ``flower`` extra); ``import protocols`` does not.
Names load on first use, so a ClientApp importing a mod loads neither the server side nor
the FedAvg driver.
"""

from fedsecure.lazy import lazy_exports

_EXPORTS = {
    "HEWorkflow": "protocols.flower.he_workflow",
    "he_mod": "protocols.flower.he_node",
    "Identity": "protocols.flower.mod",
    "OUTCOME_RECORD": "protocols.flower.fit",
    "SecAggWorkflow": "protocols.flower.workflow",
    "SessionSetup": "protocols.flower.session",
    "make_secagg_mod": "protocols.flower.mod",
    "secagg_mod": "protocols.flower.mod",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
