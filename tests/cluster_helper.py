"""Runs a Ray ``cluster_utils.Cluster`` (a head and worker nodes) until it is terminated.

Started by tests as a separate process so that the cluster's token mode comes from this
process's environment, not from whatever Ray configuration the test process already has.
Prints one JSON line: {"address": ..., "workers": [node ids]}. Losing a node mid-sweep is
tested with `ray start` processes instead (tests/integration/test_ray_start_cluster.py).
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

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
