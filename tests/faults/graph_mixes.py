"""The Graph fault mixes every delivery fault test runs: the whole pipeline (tests/faults) and the
delivery use case over the adapter in both create modes (tests/graph)."""

from __future__ import annotations

from devtools.graph_server import REALISTIC_FAULT_MIX, Fault

GRAPH_MIXES = {
    "429 bursts with Retry-After": [Fault(kind="429", method="POST", path_contains="/messages", times=6, retry_after=1)],
    "503 bursts": [Fault(kind="503", method="POST", path_contains="/messages", times=4, retry_after=1),
                   Fault(kind="503", method="GET", path_contains="/mailFolders", times=3, retry_after=1)],
    "500s": [Fault(kind="500", method="POST", path_contains="/messages", times=4),
             Fault(kind="500", method="GET", path_contains="/users", times=2)],
    "timeouts and dropped connections": [Fault(kind="timeout", method="POST", path_contains="/messages", times=2),
                                         Fault(kind="drop", method="POST", path_contains="/messages", times=3)],
    "created, then the answer lost": [Fault(kind="commit_then_drop", method="POST", path_contains="/messages", times=4),
                                      Fault(kind="commit_then_503", method="POST", path_contains="/messages", times=3,
                                            retry_after=1)],
    "everything at once": [Fault(kind="429", method="POST", path_contains="/messages", times=3, retry_after=1),
                           Fault(kind="commit_then_drop", method="POST", path_contains="/messages", times=2),
                           Fault(kind="500", method="GET", path_contains="/mailFolders", times=2),
                           Fault(kind="drop", method="POST", path_contains="/messages", times=2)],
}


# A realistic bad day (the figures): steady rates of 429, 503, 500 and lost answers on every create
REALISTIC_MIX = REALISTIC_FAULT_MIX
