"""Confinement of a SPARQL query worker process (webapp.query_runner), applied by the
worker to itself before it opens the store.

- No network (except for the sparql store, whose workers forward queries to its
  server): the worker moves into a new, empty network namespace (Linux
  unshare(CLONE_NEWNET); as root directly, otherwise inside a new user namespace
  where the kernel allows unprivileged ones). Whatever a query asks for, SERVICE
  included, the engine can reach no address, not even loopback. The query's tokens
  are checked for SERVICE before it is sent (kg.sparql_forms); this is the second
  wall, the one that does not depend on reading the query right.
- A memory ceiling: RLIMIT_AS, so that a query building huge strings or joins fails
  its allocation (and the worker is replaced) instead of taking the machine's memory.
- A lower CPU priority (nice 10): the web process, serving pages, goes first when
  both compete for the cores.

Each step is best effort where the operating system refuses it; confine() returns
which took effect, the worker reports it when ready (QueryRunner.confinement) and the
runner logs a warning when the network could not be left.
"""
from __future__ import annotations

import ctypes
import os
import resource

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NICE = 10

def _unshare(flags: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(flags) == 0
    except (OSError, AttributeError):
        return False


def isolate_network() -> bool:
    """Leave the host's network: True when the process now has no route anywhere."""
    if _unshare(CLONE_NEWNET):
        return True
    uid, gid = os.getuid(), os.getgid()
    if not _unshare(CLONE_NEWUSER | CLONE_NEWNET):
        return False
    try:  # keep the same ids inside the user namespace, so file access is unchanged
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    except OSError:
        pass
    return True


def limit_memory(limit: int) -> bool:
    """Cap the address space at `limit` bytes (0: no cap)."""
    if limit <= 0:
        return False
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return True
    except (ValueError, OSError):
        return False


def lower_priority() -> bool:
    try:
        os.nice(NICE)
        return True
    except OSError:
        return False


def confine(memory: int, network: bool = True) -> dict[str, bool | None]:
    """Apply the confinements to this process; which took effect (network_isolated is
    None when not asked for: a worker of the sparql store must reach its server)."""
    return {"network_isolated": isolate_network() if network else None, "memory_limited": limit_memory(memory),
            "lower_priority": lower_priority()}
