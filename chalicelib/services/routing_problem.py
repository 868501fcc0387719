"""A day as a routing problem (domain.routing), and the solver's answer read back as stops."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from chalicelib.domain import routing as plan
from chalicelib.domain.users import WEEKDAYS, User
from chalicelib.domain.visits import Visit
from chalicelib.services.dispatch_board import FINISHED, IN_PROGRESS, MOVABLE, Day
from chalicelib.services.proposals import LeftOut, ProposedRoute, ProposedStop, SkippedTechnician

PRIORITY_JOBS = ("high", "emergency")
NO_LOCATION_REASON = "no location"
NO_TECHNICIAN_REASON = "no technician can be planned that day"
NOT_ON_THIS_DAY_REASON = "window is not on this day"
PIN = "@"  # a pinned stop's routing id: visit@technician (a shared visit is pinned to each)
MINUTE = 60
# A re-plan gives a visit to another technician only if that saves more than half an hour of
# driving, or if it cannot be served otherwise.
MOVE_PENALTY_SECONDS = 30 * MINUTE
UNAVAILABLE_REASON = "unavailable for the rest of the day"


@dataclass(frozen=True)
class Replan:
    """Re-planning a day from where it stands: who is gone, and what a moved visit costs."""

    unavailable: frozenset[str] = frozenset()
    move_penalty: int = MOVE_PENALTY_SECONDS


@dataclass(frozen=True)
class WholeMinutes:
    """Travel rounded up to whole minutes: with windows, shifts and durations on whole minutes
    too, every proposed start is one a customer can be told (09:47, not 09:46:13)."""

    travel: plan.TravelTimeProvider

    def matrix(self, locations) -> list[list[int]]:
        return [[-(-s // MINUTE) * MINUTE for s in row] for row in self.travel.matrix(locations)]


@dataclass
class ProblemDay:
    """The routing problem of a day and how to read its answer back in Fieldline's terms."""

    read: Day
    problem: plan.RoutingProblem
    midnight: datetime
    buffer_seconds: int
    planned_technicians: list[User]
    free: list[Visit]
    skipped: list[SkippedTechnician]
    not_planned: list[LeftOut]

    def at(self, seconds: int) -> datetime:
        return (self.midnight + timedelta(seconds=seconds)).astimezone(self.read.zone)

    def route(self, route: plan.TechnicianRoute) -> ProposedRoute:
        tech = next(t for t in self.planned_technicians if t.user_id == route.technician_id)
        start_of_day = next(
            t.shift_start for t in self.problem.technicians if t.id == route.technician_id
        )
        stops, previous_departure = [], start_of_day
        for stop in route.stops:
            visit = self.read.visits[stop.visit_id.split(PIN)[0]]
            begins = self.at(stop.start_service)
            stops.append(
                ProposedStop(
                    visit_id=visit.visit_id,
                    job_id=visit.job_id,
                    arrival=self.at(stop.arrival),
                    start=begins,
                    end=begins + timedelta(minutes=visit.duration_minutes),
                    travel_seconds=stop.arrival - previous_departure,
                    pinned=PIN in stop.visit_id,
                )
            )
            previous_departure = stop.departure
        # The last stop's departure includes the travel buffer; the drive home does not.
        back_home = route.back_home - self.buffer_seconds if stops else None
        return ProposedRoute(
            technician_id=tech.user_id,
            name=tech.name,
            stops=stops,
            travel_seconds=route.travel_seconds,
            leaves_home=self.at(start_of_day),
            back_home=self.at(back_home) if back_home is not None else None,
        )

    def left_out(self, visit_id: str, reason: str) -> LeftOut:
        visit = self.read.visits[visit_id]
        return LeftOut(
            visit_id=visit_id,
            job_id=visit.job_id,
            reason=reason if self.problem.technicians else NO_TECHNICIAN_REASON,
            currently_assigned_to=visit.technician_ids,
        )


class ProblemBuilder:
    """A day as PyVRP sees it: seconds from the tenant's local midnight of that date.

    - Technicians leave home at their shift start (or now, planning today) and are back by its
      end; one without a home or not working that weekday is skipped, with the reason.
    - Free visits (unassigned, or booked on one planned technician and not yet under way) keep
      their window (the latest start leaves room for the duration) and skills; a visit for a
      high or emergency job must be served, others are optional.
    - Visits under way are pinned first on their technician's route, starting no earlier than
      booked; so are visits shared with another technician (they cannot move alone) and booked
      ones whose start has passed. Finished ones (completed, no access) only push the
      technician's day past their end.
    - Every visit is followed by the tenant's travel buffer, which the double-booking guard
      demands between visits: the plan can then be applied through that guard unchanged.
    """

    def __init__(self, read: Day, now: datetime, replan: Replan | None = None):
        self.read = read
        self.now = now
        self.replan = replan
        self.zone = read.zone
        # Elapsed seconds, counted in UTC: on a DST day local arithmetic would be an hour off.
        self.midnight = datetime.combine(read.date, time(0), tzinfo=self.zone).astimezone(UTC)
        self.buffer = read.tenant.travel_buffer_minutes * 60

    def seconds(self, moment: datetime) -> float:
        return (moment.astimezone(UTC) - self.midnight).total_seconds()

    def build(self) -> ProblemDay:
        technicians, visits, free, skipped, planned = [], [], [], [], []
        for tech in self.read.technicians:
            if self.replan and tech.user_id in self.replan.unavailable:
                skipped.append(self._skip(tech, UNAVAILABLE_REASON))
                free += self._released(tech)
                continue
            made = self._technician(tech)
            if isinstance(made, SkippedTechnician):
                skipped.append(made)
                continue
            routing_tech, pins, movable = made
            technicians.append(routing_tech)
            visits += pins
            free += movable
            planned.append(tech)
        free += [self.read.visits[v] for v in self.read.unassigned]
        not_planned = []
        for visit in free:
            routing_visit = self._free_visit(visit)
            if isinstance(routing_visit, str):
                not_planned.append(
                    LeftOut(
                        visit_id=visit.visit_id,
                        job_id=visit.job_id,
                        reason=routing_visit,
                        currently_assigned_to=visit.technician_ids,
                    )
                )
            else:
                visits.append(routing_visit)
        penalty = self.replan.move_penalty if self.replan else 0
        problem = plan.RoutingProblem(tuple(technicians), tuple(visits), move_penalty=penalty)
        return ProblemDay(
            read=self.read,
            problem=problem,
            midnight=self.midnight,
            buffer_seconds=self.buffer,
            planned_technicians=planned,
            free=free,
            skipped=skipped,
            not_planned=not_planned,
        )

    def _skip(self, tech: User, reason: str) -> SkippedTechnician:
        return SkippedTechnician(technician_id=tech.user_id, name=tech.name, reason=reason)

    def _released(self, tech: User) -> list[Visit]:
        """An unavailable technician's visits not begun (late ones too): they must move.
        Those under way stay as they are, and so do visits shared with another technician."""
        return [
            visit
            for visit in self.read.visits_of(tech.user_id)
            if visit.status in MOVABLE
            and visit.technician_ids == [tech.user_id]
            and self._job_open(visit)
        ]

    def _technician(self, tech: User):
        def skip(reason: str) -> SkippedTechnician:
            return self._skip(tech, reason)

        if tech.home is None:
            return skip("no home location")
        shift = tech.shift
        if shift is not None and WEEKDAYS[self.read.date.weekday()] not in shift.days:
            return skip("not working that day")
        if shift is None:
            next_midnight = datetime.combine(self.read.date + timedelta(days=1), time(0))
            shift_start, shift_end = 0, self.seconds(next_midnight.replace(tzinfo=self.zone))
        else:
            shift_start = self.seconds(self._local(shift.start))
            shift_end = self.seconds(self._local(shift.end))
        start = max(shift_start, _minute_up(self.seconds(self.now)))
        home = plan.Location(tech.home.lat, tech.home.lng)
        pins, movable, pinned_visits = [], [], []
        here = home
        for visit in self.read.visits_of(tech.user_id):
            if (
                visit.status in MOVABLE
                and visit.technician_ids == [tech.user_id]
                and visit.start >= self.now  # the past is not re-planned
                and self._job_open(visit)
            ):
                movable.append(visit)
            elif visit.status in FINISHED:
                start = max(start, _minute_up(self.seconds(visit.end)) + self.buffer)
            else:
                pinned_visits.append(visit)
        # Under way first, then what is shared with other technicians, each in booked order.
        pinned_visits.sort(key=lambda v: (v.status not in IN_PROGRESS, v.start, v.visit_id))
        for visit in pinned_visits:
            where = _location(visit) or here
            booked = _minute_up(self.seconds(visit.start))
            pins.append(
                plan.Visit(
                    id=f"{visit.visit_id}{PIN}{tech.user_id}",
                    location=where,
                    window_start=booked,
                    window_end=booked,
                    duration=visit.duration_minutes * 60 + self.buffer,
                )
            )
            here = where
        start, end = _minute_up(start), math.floor(shift_end / MINUTE) * MINUTE
        if start >= end:
            return skip("shift is over")
        routing_tech = plan.Technician(
            id=tech.user_id,
            home=home,
            shift_start=start,
            shift_end=end,
            skills=frozenset(tech.skills),
            pinned_visit_ids=tuple(p.id for p in pins),
        )
        return routing_tech, pins, movable

    def _free_visit(self, visit: Visit) -> plan.Visit | str:
        location = _location(visit)
        if location is None:
            return NO_LOCATION_REASON
        duration = visit.duration_minutes * 60
        earliest = max(0, _minute_up(self.seconds(visit.window_start)))
        latest = math.floor(self.seconds(visit.window_end) / MINUTE) * MINUTE - duration
        if latest < earliest:
            return NOT_ON_THIS_DAY_REASON
        job = self.read.jobs.get(visit.job_id)
        if not self._job_open(visit):
            return f"job is {job.stage if job else 'gone'}"
        return plan.Visit(
            id=visit.visit_id,
            location=location,
            window_start=earliest,
            window_end=latest,
            duration=duration + self.buffer,
            required_skills=frozenset(visit.required_skills),
            priority=job is not None and job.priority in PRIORITY_JOBS,
            current_technician_id=self._keeper(visit),
        )

    def _keeper(self, visit: Visit) -> str | None:
        """Re-planning: the technician a visit stays with unless moving it is worth it."""
        if self.replan is None or len(visit.technician_ids) != 1:
            return None
        tech = visit.technician_ids[0]
        return None if tech in self.replan.unavailable else tech

    def _job_open(self, visit: Visit) -> bool:
        job = self.read.jobs.get(visit.job_id)
        return job is not None and job.is_open

    def _local(self, hhmm: str) -> datetime:
        hours, minutes = hhmm.split(":")
        return datetime.combine(self.read.date, time(int(hours), int(minutes)), tzinfo=self.zone)


def _minute_up(seconds: float) -> int:
    return math.ceil(seconds / MINUTE) * MINUTE


def _location(visit: Visit) -> plan.Location | None:
    if visit.location is None:
        return None
    return plan.Location(visit.location.lat, visit.location.lng)
