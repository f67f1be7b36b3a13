"""Runs a Ray ``cluster_utils.Cluster`` (a head and worker nodes) until it is terminated.

Started by tests as a separate process so that the cluster's token mode comes from this
process's environment, not from whatever Ray configuration the test process already has.
Prints one JSON line: {"address": ..., "workers": [node ids]}. SIGUSR1 removes the last
worker node (its processes killed), as when a machine of a cluster dies.
"""

from __future__ import annotations

import json
import signal
import sys
import time

from ray.cluster_utils import Cluster


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(workers)]
    cluster.wait_for_nodes()
    print(json.dumps({"address": cluster.address,
                      "workers": [n.node_id for n in nodes]}), flush=True)

    def stop(*_: object) -> None:
        cluster.shutdown()
        sys.exit(0)

    def remove_last_worker(*_: object) -> None:  # a node dies: its processes are killed
        cluster.remove_node(nodes.pop(), allow_graceful=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, remove_last_worker)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
