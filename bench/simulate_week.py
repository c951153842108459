"""simulate_week: wall time of `simulate` for a week of 640, 6,400 and 10,000 students.

The courses are courses/intro-python-60.yaml scaled: each lab's arrivals,
`max_nodes` and the schedule windows' `min_nodes` times students / 60, the
rest unchanged. Each size is timed for the whole `simulate()` (lower bound,
autoscaler, static pool, CPU policy), and in the same run, since this
machine is noisy, two baselines:
- the same week through the static pool alone: the event loop of the world
  (every arrival, placement and departure) without any decide();
- a pure-Python loop of a fixed 20 million additions: the machine's speed.

    python bench/simulate_week.py [--students 640 6400 10000] [--rounds 1] [--write DIR]
                                  [--stress]

--stress adds each size with max_nodes at half the peak the lower bound
needs: the pool is at its largest through the labs and thousands of
students queue, the case that was quadratic in decide()'s estimate.

No Docker, no root; 2 cores are plenty (it uses one).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swarmhub.autoscaler import simulate as sim  # noqa: E402
from swarmhub.autoscaler.course import Course, load_course, requests  # noqa: E402

BASE = Path(__file__).resolve().parent.parent / "courses" / "intro-python-60.yaml"
BASE_STUDENTS = 60
AIM_SECONDS = 30.0  # a week of 10,000 students
LOOP = 20_000_000


def scaled(base: Course, students: int, capped: bool = False) -> Course:
    """`base` (a course for BASE_STUDENTS) for `students`; `capped`: with half
    the nodes its peak needs (the schedule's floors cut to fit)."""
    if capped:
        full = scaled(base, students)
        half = max(1, sim.lower_bound(full, requests(full))[1] // 2)
        auto = full.autoscaler
        windows = [
            w.model_copy(update={"min_nodes": min(half, w.min_nodes)}) for w in auto.schedule
        ]
        auto = auto.model_copy(update={"max_nodes": half, "schedule": windows})
        data = full.model_dump() | {"name": f"{full.name}-capped", "autoscaler": auto.model_dump()}
        return Course.model_validate(data)
    f = students / BASE_STUDENTS
    sessions = [s.model_copy(update={"arrivals": round(s.arrivals * f)}) for s in base.sessions]
    auto = base.autoscaler
    if auto is not None:
        windows = [
            w.model_copy(update={"min_nodes": round(w.min_nodes * f)}) for w in auto.schedule
        ]
        auto = auto.model_copy(
            update={"max_nodes": math.ceil(auto.max_nodes * f), "schedule": windows}
        )
    data = base.model_dump()
    data.update(
        name=f"{base.name.rsplit('-', 1)[0]}-{students}",
        sessions=[s.model_dump() for s in sessions],
        autoscaler=None if auto is None else auto.model_dump(),
    )
    return Course.model_validate(data)  # validated again: the bounds still hold


def loop_floor() -> float:
    t = time.perf_counter()
    total = 0
    for i in range(LOOP):
        total += i
    return time.perf_counter() - t


def timed(course: Course) -> dict:
    trace = requests(course)
    t = time.perf_counter()
    report = sim.simulate(course, course.autoscaler)
    whole = time.perf_counter() - t
    t = time.perf_counter()
    sim.run_static(course, trace, report.peak_nodes)
    static = time.perf_counter() - t
    auto = report.results[0]
    return {
        "servers": report.requests,
        "simulate": whole,
        "static": static,
        "calls": auto.decide_calls,
        "polls": sum(auto.decisions.values()),
        "x bound": auto.node_hours / report.bound_hours,
        "p95": auto.percentile(95),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[640, 6400, 10000])
    parser.add_argument("--rounds", type=int, default=1, choices=range(1, 11))
    parser.add_argument("--write", type=Path, help="also write the scaled course files here")
    parser.add_argument(
        "--stress", action="store_true", help="also each size with max_nodes at half its peak"
    )
    args = parser.parse_args()
    base = load_course(BASE)
    command = f"python bench/simulate_week.py --students {' '.join(map(str, args.students))}"
    command += f" --rounds {args.rounds}" + (" --stress" if args.stress else "")
    print(f"{command}   (base: {BASE.name}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(
        f"{'students':>9}{'servers':>9}{'simulate':>10}{'static':>9}{'ratio':>8}"
        f"{'loop':>8}{'ratio':>8}{'decide':>9}{'polls':>8}{'x bound':>9}{'p95':>7}"
    )
    worst = {}
    cases = [(n, False) for n in args.students]
    if args.stress:
        cases += [(n, True) for n in args.students]
    for students, capped in cases:
        course = scaled(base, students, capped)
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            path = args.write / f"{course.name}.yaml"
            path.write_text(course.model_dump_json(indent=2, exclude_none=True))
        for _ in range(args.rounds):
            floor = loop_floor()
            r = timed(course)
            if not capped:
                worst[students] = max(worst.get(students, 0.0), r["simulate"])
            label = f"{students}{'*' if capped else ''}"
            print(
                f"{label:>9}{r['servers']:>9}{r['simulate']:>9.2f}s{r['static']:>8.2f}s"
                f"{r['simulate'] / r['static']:>7.1f}x{floor:>7.2f}s"
                f"{r['simulate'] / floor:>7.1f}x{r['calls']:>9}{r['polls']:>8}"
                f"{r['x bound']:>8.2f}x{r['p95']:>6.0f}s",
                flush=True,
            )
    if args.stress:
        print("* max_nodes at half the peak the lower bound needs: students queue through the labs")
    if 10000 in worst:
        met = "met" if worst[10000] < AIM_SECONDS else "MISSED"
        print(
            f"aim: a week of 10,000 students under {AIM_SECONDS:.0f} s: {met} "
            f"(slowest round {worst[10000]:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
