"""nbgrader's collect step for swarmhub's per-student inboxes.

Every server runs as the same uid, so file modes cannot keep one student from
reading another's submission. swarmhub keeps them apart by mounts instead: a
student's server mounts only `exchange/inbound/<student>/` (the hub's name for
them) at nbgrader's `<root>/<course>/inbound`, so `nbgrader submit` writes
there and sees nothing else. Staff mount the whole exchange, where the inbound
directory holds one folder per student; this collector reads those folders.

The student is the folder's name, never the file name: a student can write
any name into their own folder, but the folder is the one the hub mounted for
them, so a submission claiming to be someone else's is collected as its
writer's.
"""

from __future__ import annotations

import glob
import os


def submissions(inbound: str, student: str, assignment: str, parse=str) -> list[dict]:
    """Every submission of `assignment` under `inbound`/<student>/ (`student` may be
    "*"): {"username", "filename", "timestamp"}, `filename` relative to `inbound`
    ("<student>/<entry>"), the timestamp read by `parse` (nbgrader's parse_utc)."""
    folders = "*" if student == "*" else glob.escape(student)
    out = []
    for path in glob.glob(os.path.join(inbound, folders, f"*+{glob.escape(assignment)}+*")):
        folder, entry = os.path.split(path)
        # <student>+<assignment>+<timestamp>[+<random>]; neither name may hold a "+".
        parts = entry.split("+")
        if len(parts) not in (3, 4) or parts[1] != assignment:
            continue
        try:
            when = parse(parts[2])
        except ValueError:
            continue  # not something nbgrader submitted
        owner = os.path.basename(folder)
        out.append({"username": owner, "filename": f"{owner}/{entry}", "timestamp": when})
    return sorted(out, key=lambda r: r["filename"])


try:
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.exchange.default.collect import ExchangeCollect, groupby
    from nbgrader.utils import parse_utc
except ImportError:  # only the pure part, e.g. in swarmhub's unit tests
    ExchangeCollect = None

if ExchangeCollect is not None:

    class PerStudentCollect(ExchangeCollect):
        """`nbgrader collect` over inbound/<student>/ folders."""

        def init_src(self):
            if self.coursedir.course_id == "":
                self.fail("No course id specified. Re-run with --course flag.")
            self.course_path = os.path.join(self.root, self.coursedir.course_id)
            self.inbound_path = os.path.join(self.course_path, "inbound")
            if not os.path.isdir(self.inbound_path):
                self.fail(f"Course not found: {self.inbound_path}")
            student = self.coursedir.student_id or "*"
            assignment = self.coursedir.assignment_id
            records = submissions(self.inbound_path, student, assignment, parse_utc)
            by_student = groupby(records, lambda r: r["username"])
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                try:
                    self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
                except MissingEntry:
                    self.duedate = None
            self.src_records = []
            for recs in by_student.values():
                recs = self._sort_by_timestamp(recs)
                if self.duedate is not None and self.before_duedate:
                    on_time = [r for r in recs if r["timestamp"] <= self.duedate]
                    recs = on_time or recs
                self.src_records.append(recs[0])
