# nbgrader, as every swarmhub server sees it (docs/courses.md). A course with
# `nbgrader: true` has its exchange mounted at /srv/nbgrader/exchange/<course>:
# for a student, the released assignments (read-only) and their own inbox; for
# staff, the whole exchange. The student is JUPYTERHUB_USER (nbgrader reads it
# when the OS user is jovyan, as on every swarmhub server).
# ruff: noqa: F821 - `get_config` is provided by nbgrader when it loads this file
c = get_config()
c.Exchange.root = "/srv/nbgrader/exchange"
# A student in two courses fetches into ~/<course>/<assignment>.
c.Exchange.path_includes_course = True
# Staff collect from one folder per student (swarmhub_nbgrader.PerStudentCollect).
c.ExchangeFactory.collect = "swarmhub_nbgrader.PerStudentCollect"
# Every server runs as uid 1000: file owners say nothing about who submitted.
c.CollectApp.check_owner = False
