"""One model of a class, asked by the hub's spawner, the autoscaler and the simulator.

- `calendar`: when a class meets (autoscaler.schedule and the courses' windows,
  each in its own time zone, only while its course runs) and when it sits an exam;
- `membership`: who is in which course that applies now (from JupyterHub groups);
- `sizing`: what a user may pick and how big their server is: its profile's
  reservation, or its limit during an exam of the student's course.

Each rule is written here once; the hub (swarmhub.hub.profiles, hub.courses),
the autoscaler (service.gather) and the simulator (autoscaler.sim_hub) call it
with their own "now". Pure, base dependencies only; nothing here imports the
hub or the autoscaler. The typed config of a course is swarmhub.config.courses.
"""
