"""Our secure aggregation inside Flower (flwr >= 1.20): a drop-in for Flower's SecAgg+.

Server: ``DefaultWorkflow(fit_workflow=SecAggWorkflow(...))`` where Flower's
``SecAggPlusWorkflow`` would go. Clients: ``ClientApp(client_fn, mods=[secagg_mod])``
where ``secaggplus_mod`` would go. Importing this package imports flwr (the
``peers`` extra); ``import protocols`` does not.
"""

from protocols.flower.mod import Identity, make_secagg_mod, secagg_mod
from protocols.flower.session import OUTCOME_RECORD, SessionSetup
from protocols.flower.workflow import SecAggWorkflow

__all__ = ["OUTCOME_RECORD", "Identity", "SecAggWorkflow", "SessionSetup", "make_secagg_mod", "secagg_mod"]
