"""A busy kernel is activity, even when it prints nothing.

jupyter_server counts a kernel as active only when it sends IOPub messages, so
a long silent computation (`time.sleep`, a model fit without progress output)
looked idle and the idle culler stopped it. While any kernel is busy, this
extension refreshes a `*_last_activity` setting, which jupyter_server's
`last_activity()` includes in what jupyterhub-singleuser reports to the hub.
"""

from datetime import UTC, datetime

from tornado.ioloop import PeriodicCallback

CHECK_EVERY_MS = 15_000


def _jupyter_server_extension_points():
    return [{"module": "swarmhub_activity"}]


def _load_jupyter_server_extension(serverapp):
    kernels = serverapp.kernel_manager
    settings = serverapp.web_app.settings

    def check():
        for kernel_id in kernels.list_kernel_ids():
            if getattr(kernels.get_kernel(kernel_id), "execution_state", None) == "busy":
                settings["busy_kernels_last_activity"] = datetime.now(UTC)
                return

    PeriodicCallback(check, CHECK_EVERY_MS).start()
    serverapp.log.info("swarmhub_activity: busy kernels count as activity")
