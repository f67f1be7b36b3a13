"""Ray: start a local instance or join a cluster, with token authentication kept on, and
refuse a sweep the cluster cannot place before anything waits forever."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sweeper.errors import UserInputError
from sweeper.notify import Notifier

__all__ = ["NodeResources", "check_resources", "connect", "is_multi_node", "nodes"]

AUTH_HELP = (
    "Ray refuses clients without the cluster's token (token authentication). Run sweeper as the "
    "user who started the head (its token is in ~/.ray/auth_token), or pass the cluster's "
    "token: copy it to ~/.ray/auth_token, or set RAY_AUTH_TOKEN=<token> or "
    "RAY_AUTH_TOKEN_PATH=<file>. (`ray get-auth-token` on the head prints it.)"
)


@dataclass(frozen=True)
class NodeResources:
    node_id: str
    address: str
    cpus: float
    gpus: float


def nodes() -> list[NodeResources]:
    """Alive nodes of the connected cluster with their CPUs and GPUs."""
    import ray

    return [
        NodeResources(n["NodeID"], n.get("NodeManagerAddress", ""),
                      float(n["Resources"].get("CPU", 0)), float(n["Resources"].get("GPU", 0)))
        for n in ray.nodes() if n.get("Alive")
    ]


def check_resources(cpus_per_trial: float, gpus_per_trial: float,
                    available: list[NodeResources]) -> None:
    """Exit 2 with the numbers when no node can hold one trial (Ray would wait forever)."""
    if not available:
        raise UserInputError("the Ray cluster has no alive node")
    fits = [n for n in available if n.cpus >= cpus_per_trial and n.gpus >= gpus_per_trial]
    if fits:
        return
    most_gpus = max(n.gpus for n in available)
    most_cpus = max(n.cpus for n in available)
    if gpus_per_trial > most_gpus:
        raise UserInputError(
            f"each trial asks for {gpus_per_trial:g} GPU(s) (resources.gpus_per_trial or "
            f"--gpus-per-trial), but the largest node of the cluster has {most_gpus:g} "
            f"({len(available)} node(s), {sum(n.gpus for n in available):g} GPU(s) in all); "
            "lower it, or join nodes with more GPUs")
    raise UserInputError(
        f"each trial asks for {cpus_per_trial:g} CPU(s) and {gpus_per_trial:g} GPU(s), but "
        f"no node has both (largest: {most_cpus:g} CPUs, {most_gpus:g} GPUs); lower "
        "resources.cpus_per_trial (--cpus-per-trial)")


def _started_on_this_machine(notifier: Notifier) -> str | None:
    """The address `ray start --head` recorded here, which a bare ray.init() would join."""
    from ray._private.services import find_bootstrap_address

    found = find_bootstrap_address(None)
    if not found:
        return None
    host, _, port = str(found).rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except (OSError, ValueError):  # a head that died without `ray stop` leaves its record
        notifier.note(f"note: the Ray cluster recorded on this machine at {found} does not "
                      "answer (`ray stop` clears the record); starting a private Ray")
        return None
    notifier.note(f"note: joining the Ray cluster started on this machine at {found} "
                  "(--address local runs a private Ray instead)")
    return str(found)


def _is_auth_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return "authentication" in text or "unauthenticated" in text or "auth token" in text


@contextmanager
def connect(address: str | None, notifier: Notifier, *, local_cpus: int | None = None,
            runtime_env: dict[str, Any] | None = None) -> Iterator[None]:
    """Ray for the duration of a sweep: the cluster at ``address``, else (as Ray does) the
    cluster `ray start` runs on this machine, else a private local Ray (dashboard off).
    ``"local"`` always means a private one."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    recorded = None
    if address is None:
        address = recorded = _started_on_this_machine(notifier)
    if address == "local":
        address = None
    if address:
        # A client is refused unless it sends the cluster's token: switch token mode on when
        # one is at hand (~/.ray/auth_token, RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH), as
        # `ray start` does. A local ray.init() turns token auth on by itself.
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )

        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    kwargs: dict[str, Any] = {"log_to_driver": False, "runtime_env": runtime_env or {},
                              "logging_level": "ERROR"}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(address="local", num_cpus=local_cpus, include_dashboard=False,
                     dashboard_host="127.0.0.1", **kwargs)
    except Exception as exc:
        if _is_auth_error(exc):
            raise UserInputError(AUTH_HELP) from None
        if address:
            hint = ""
            if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
                # Ray's exception does not say so, but a token cluster refuses such a client.
                hint = " If the cluster uses token authentication (the default), " + AUTH_HELP
            if recorded:
                hint += (" No --address was given: this is the cluster `ray start` recorded on "
                         "this machine; pass --address local for a private Ray.")
            raise UserInputError(f"cannot reach the Ray cluster at {address!r}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else exc}; check "
                                 "--address (or RAY_ADDRESS) and that `ray status` works "
                                 f"there.{hint}") from None
        raise
    try:
        yield
    finally:
        ray.shutdown()


def is_multi_node() -> bool:
    return len(nodes()) > 1
