"""OR-Tools routing on a Solomon instance: the baseline our adapter must not lose to.

Textbook VRPTW model: arc cost = distance, a time dimension whose transit is the service time
at the origin plus travel, slack for waiting, windows as cumul ranges, a capacity dimension,
PARALLEL_CHEAPEST_INSERTION then GUIDED_LOCAL_SEARCH for the given time budget.
"""

from __future__ import annotations

import math

from bench.solomon import Instance

# OR-Tools' RoutingModel is single-threaded; no worker settings are needed to use one core.


def solve(instance: Instance, seconds: float, allow_drops: bool = False) -> list[list[int]] | None:
    """Routes as lists of customer ids, or None when no solution was found in time.

    With `allow_drops`, each customer may be left out at a penalty far above any distance it
    could save: PARALLEL_CHEAPEST_INSERTION then always has a first solution to improve,
    where with a tight fleet it otherwise often finds none. Dropped customers make the
    result infeasible in the referee's eyes, as they should.
    """
    from ortools.constraint_solver import pywrapcp

    nodes, matrix = instance.nodes, instance.distance_matrix()
    manager = pywrapcp.RoutingIndexManager(len(nodes), instance.vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance(from_index: int, to_index: int) -> int:
        return matrix[manager.IndexToNode(from_index)][manager.IndexToNode(to_index)]

    def travel_and_service(from_index: int, to_index: int) -> int:
        return nodes[manager.IndexToNode(from_index)].service + distance(from_index, to_index)

    def demand(from_index: int) -> int:
        return nodes[manager.IndexToNode(from_index)].demand

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    _add_time_dimension(instance, manager, routing, travel_and_service)
    demand_callback = routing.RegisterUnaryTransitCallback(demand)
    routing.AddDimensionWithVehicleCapacity(
        demand_callback, 0, [instance.capacity] * instance.vehicles, True, "load"
    )
    if allow_drops:
        _allow_dropping_customers(instance, manager, routing, matrix)
    solution = routing.SolveWithParameters(_search_parameters(seconds))
    if solution is None:
        return None
    return _routes(instance, manager, routing, solution)


def _add_time_dimension(instance, manager, routing, travel_and_service) -> None:
    horizon = instance.depot.due
    callback = routing.RegisterTransitCallback(travel_and_service)
    # Slack up to the horizon lets a vehicle wait for a window to open.
    routing.AddDimension(callback, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    for node_index, node in enumerate(instance.nodes[1:], start=1):
        time.CumulVar(manager.NodeToIndex(node_index)).SetRange(node.ready, node.due)
    for vehicle in range(instance.vehicles):
        time.CumulVar(routing.Start(vehicle)).SetRange(instance.depot.ready, horizon)
        time.CumulVar(routing.End(vehicle)).SetRange(instance.depot.ready, horizon)


def _allow_dropping_customers(instance, manager, routing, matrix) -> None:
    # Leaving a customer out saves at most a detour of two edges; this costs far more.
    penalty = 100 * max(max(row) for row in matrix) * len(instance.nodes)
    for node_index in range(1, len(instance.nodes)):
        routing.AddDisjunction([manager.NodeToIndex(node_index)], penalty)


def _search_parameters(seconds: float):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    whole, fraction = divmod(seconds, 1)
    params.time_limit.seconds = int(whole)
    params.time_limit.nanos = int(math.floor(fraction * 1e9))
    return params


def _routes(instance: Instance, manager, routing, solution) -> list[list[int]]:
    routes = []
    for vehicle in range(instance.vehicles):
        index, route = routing.Start(vehicle), []
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            if node != 0:
                route.append(instance.nodes[node].id)
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return routes
