"""Every pinned version the project installs onto a machine or into an image.

One place to read and to bump. Terraform providers are pinned in
terraform/**/versions.tf, Packer plugins in packer/plugins.pkr.hcl and
cookbooks in their metadata.rb; everything else is here. Changing a value here
changes the images' input hash, so the next `bake` rebuilds them.
"""

# Base of the local container images (debootstrap --variant=minbase).
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "tini", "passwd")

# Hub image, at or above the published advisories for each (see docs/security.md).
HUB_PACKAGES = (
    "jupyterhub==6.1.1",
    "dockerspawner==14.0.0",
    "oauthenticator==17.4.0",
    "jupyterhub-idle-culler==2.0.0",
    "prometheus-client==0.26.0",
)
# configurable-http-proxy comes from Debian (node-configurable-http-proxy) and
# runs as its own container from the hub image, so a hub restart keeps routes.
HUB_DEBIAN_PACKAGES = ("node-configurable-http-proxy",)

# Notebook image: the single-user environment. jupyterhub matches the hub's.
NOTEBOOK_PACKAGES = (
    "jupyterhub==6.1.1",
    "jupyterlab==4.6.6",
    "numpy==2.3.5",
    "pandas==2.3.3",
    "matplotlib==3.10.7",
    "scipy==1.16.3",
    # Course materials from a git repository by link (docs/courses.md).
    "nbgitpuller==1.3.0",
    # Assignments through a per-course exchange; brings notebook 7 with it.
    "nbgrader==0.9.6",
)
# nbgitpuller runs git.
NOTEBOOK_DEBIAN_PACKAGES = ("git",)
