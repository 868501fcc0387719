"""VRPTW instances in the LKH-3 text format, in integer units x10.

The published best-known distances use `floor(10 * euclid)` per edge, so everything is kept
in tenths: coordinates, windows and service times are multiplied by 10 and every edge is the
floor of the scaled euclidean distance. Travel time equals distance, as in the benchmark.

The instances ship with the repository under `bench/data/` (the Solomon set and six
Gehring–Homberger 1,000-customer instances, each folder with its sources and licence); any
other instance file works too when a `bks.csv` with its best-known solution lies beside it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SOLOMON_DIR = DATA_DIR / "solomon"
BEST_KNOWN_FILE = "bks.csv"
SCALE = 10


@dataclass(frozen=True)
class Node:
    """The depot (id 1) or a customer, with everything already scaled x10."""

    id: int
    x: int
    y: int
    demand: int
    ready: int
    due: int
    service: int


@dataclass(frozen=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    nodes: list[Node]  # nodes[0] is the depot

    @property
    def depot(self) -> Node:
        return self.nodes[0]

    @property
    def customers(self) -> list[Node]:
        return self.nodes[1:]

    def distance_matrix(self) -> list[list[int]]:
        """Edge weights by position in `nodes` (the depot is 0)."""
        return [[scaled_distance(a, b) for b in self.nodes] for a in self.nodes]


@dataclass(frozen=True)
class BestKnown:
    vehicles: int
    distance: int  # x10 units


def scaled_distance(a: Node, b: Node) -> int:
    # Coordinates are integers x10, so floor(euclid) is floor(10 * original euclid).
    return math.floor(math.hypot(a.x - b.x, a.y - b.y))


def resolve(name_or_path: str) -> Path:
    """Accept a path, or the name of an instance under bench/data/ (`C101`, `RC2_10_1`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in sorted(DATA_DIR.glob(f"*/{name_or_path.upper()}.vrptw")):
        return candidate
    raise FileNotFoundError(f"no instance {name_or_path!r}: neither a file nor in {DATA_DIR}")


def all_instance_paths() -> list[Path]:
    return sorted(SOLOMON_DIR.glob("*.vrptw"))


def load(name_or_path: str | Path) -> Instance:
    path = resolve(str(name_or_path))
    return parse(path.read_text(), default_name=path.stem)


def parse(text: str, default_name: str = "") -> Instance:
    header, sections = _split_sections(text)
    dimension = int(header["DIMENSION"])
    default_service = int(header.get("SERVICE_TIME", "0"))
    coords = _rows(sections["NODE_COORD_SECTION"], 3)
    demands = _rows(sections["DEMAND_SECTION"], 2)
    windows = _rows(sections["TIME_WINDOW_SECTION"], 3)
    services = _rows(sections.get("SERVICE_TIME_SECTION", []), 2)
    depot_ids = [int(tok) for tok in sections["DEPOT_SECTION"] if int(tok) != -1]
    if depot_ids != [1]:
        raise ValueError(f"expected depot 1, got {depot_ids}")
    nodes = [
        Node(
            id=i,
            x=round(coords[i][0] * SCALE),
            y=round(coords[i][1] * SCALE),
            demand=round(demands[i][0]),
            ready=round(windows[i][0] * SCALE),
            due=round(windows[i][1] * SCALE),
            service=round(services.get(i, (0 if i == 1 else default_service,))[0] * SCALE),
        )
        for i in range(1, dimension + 1)
    ]
    return Instance(
        name=header.get("NAME", default_name),
        vehicles=int(header["VEHICLES"]),
        capacity=int(header["CAPACITY"]),
        nodes=nodes,
    )


def load_best_known(path: Path = SOLOMON_DIR / BEST_KNOWN_FILE) -> dict[str, BestKnown]:
    """A `bks.csv`: `instance,vehicles,distance_x10` per instance."""
    with open(path, newline="") as fh:
        return {
            row["instance"]: BestKnown(int(row["vehicles"]), int(row["distance_x10"]))
            for row in csv.DictReader(fh)
        }


def best_known(instance_path: Path, name: str) -> BestKnown:
    """The best-known solution of an instance, from the `bks.csv` beside its file."""
    table = instance_path.parent / BEST_KNOWN_FILE
    if not table.is_file():
        raise FileNotFoundError(f"no {BEST_KNOWN_FILE} beside {instance_path}")
    found = load_best_known(table).get(name)
    if found is None:
        raise KeyError(f"{table} has no row for {name}")
    return found


def _split_sections(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = sections.setdefault(line, [])
        elif ":" in line and current is None:
            key, value = line.split(":", 1)
            header[key.strip()] = value.strip()
        elif current is not None:
            current.extend(line.split())
    return header, sections


def _rows(tokens: list[str], width: int) -> dict[int, tuple[float, ...]]:
    """Group `id value...` tokens into {id: (values...)}."""
    rows = {}
    for start in range(0, len(tokens) - width + 1, width):
        chunk = tokens[start : start + width]
        rows[int(chunk[0])] = tuple(float(tok) for tok in chunk[1:])
    return rows
