"""What computing one day's online-booking slots costs, past its two DynamoDB reads.

    python -m bench.booking [--technicians 50] [--visits 6] [--repeat 15]

`domain.booking.available_slots` for one local day: every technician with the skill, each with
`--visits` booked visits at known places, and a customer place (the drive estimate is computed
for every technician, visit and grid time: the worst case). Prints the median and the spread of
`--repeat` runs, and how many slots the day had.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.booking import Calendar, Request, available_slots
from chalicelib.domain.users import Point, Shift, User
from chalicelib.domain.visits import Booking

ZONE = "America/Chicago"
DAY = date(2030, 6, 3)


def _calendar(technicians: int, visits: int) -> Calendar:
    zone = ZoneInfo(ZONE)
    team, booked, places = [], {}, {}
    for t in range(technicians):
        user_id = f"tech{t:03d}"
        team.append(
            User(
                user_id=user_id,
                role="technician",
                name=user_id,
                skills=["plumbing"],
                shift=Shift(start="07:00", end="19:00"),
                created_at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        )
        day = []
        for v in range(visits):
            start = datetime(2030, 6, 3, 8, tzinfo=zone) + timedelta(minutes=90 * v + 15 * (t % 4))
            visit_id = f"{user_id}-v{v}"
            day.append(
                Booking(visit_id=visit_id, job_id="j", start=start, end=start + timedelta(hours=1))
            )
            places[visit_id] = Point(lat=41.80 + 0.01 * v, lng=-87.70 + 0.01 * (t % 10))
        booked[user_id] = day
    return Calendar(
        timezone=ZONE,
        now=datetime(2030, 6, 1, tzinfo=UTC),
        lead_time_hours=2,
        horizon_days=30,
        buffer_minutes=15,
        technicians=team,
        booked=booked,
        places=places,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--technicians", type=int, default=50)
    parser.add_argument("--visits", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    calendar = _calendar(args.technicians, args.visits)
    request = Request(
        day=DAY, duration_minutes=60, required_skills=["plumbing"], at=Point(lat=41.88, lng=-87.66)
    )
    timings, slots = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        slots = available_slots(request, calendar)
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"{args.technicians} technicians x {args.visits} visits: {len(slots)} slots; "
        f"median {statistics.median(timings):.1f} ms "
        f"(min {min(timings):.1f}, max {max(timings):.1f}) over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
