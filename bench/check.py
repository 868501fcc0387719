"""An independent feasibility check of a Solomon solution, from the parsed instance alone.

Deliberately shares nothing with `chalicelib.domain.routing`: it is the referee for both
solvers, so a bug in the domain's own checker cannot hide a bad solution here.
"""

from __future__ import annotations

from bench.solomon import Instance, scaled_distance

Routes = list[list[int]]  # each route: customer ids in visiting order, depot excluded


def violations(instance: Instance, routes: Routes) -> list[str]:
    """Every broken rule, in words; empty means feasible."""
    found = _coverage(instance, routes)
    used = [route for route in routes if route]
    if len(used) > instance.vehicles:
        found.append(f"{len(used)} vehicles used, {instance.vehicles} available")
    by_id = {node.id: node for node in instance.nodes}
    for number, route in enumerate(used, start=1):
        if all(cid in by_id and cid != instance.depot.id for cid in route):
            found += _route_violations(instance, route, number)
    return found


def total_distance(instance: Instance, routes: Routes) -> int:
    by_id = {node.id: node for node in instance.nodes}
    total = 0
    for route in routes:
        if not route:
            continue
        path = [instance.depot, *(by_id[cid] for cid in route), instance.depot]
        total += sum(scaled_distance(a, b) for a, b in zip(path, path[1:], strict=False))
    return total


def _coverage(instance: Instance, routes: Routes) -> list[str]:
    served = [cid for route in routes for cid in route]
    expected = {node.id for node in instance.customers}
    found = [
        f"customer {cid} served {served.count(cid)} times"
        for cid in sorted(set(served))
        if served.count(cid) > 1
    ]
    found += [f"customer {cid} never served" for cid in sorted(expected - set(served))]
    found += [f"unknown customer {cid}" for cid in sorted(set(served) - expected)]
    return found


def _route_violations(instance: Instance, route: list[int], number: int) -> list[str]:
    by_id = {node.id: node for node in instance.nodes}
    depot = instance.depot
    found = []
    load = sum(by_id[cid].demand for cid in route)
    if load > instance.capacity:
        found.append(f"route {number}: load {load} over capacity {instance.capacity}")
    here, clock = depot, depot.ready
    for cid in route:
        node = by_id[cid]
        start = max(clock + scaled_distance(here, node), node.ready)
        if start > node.due:
            found.append(f"route {number}: customer {cid} starts at {start} after {node.due}")
        here, clock = node, start + node.service
    back = clock + scaled_distance(here, depot)
    if back > depot.due:
        found.append(f"route {number}: back at the depot at {back} after {depot.due}")
    return found
