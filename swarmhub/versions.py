"""Every pinned version the project installs onto a machine or into an image.

One place to read and to bump. Terraform providers are pinned in
terraform/**/versions.tf, Packer plugins in packer/plugins.pkr.hcl and
cookbooks in their metadata.rb; everything else is here.
"""

# Base of the local container images (debootstrap --variant=minbase).
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"

# Hub image: pinned at or above the published advisories for each.
JUPYTERHUB = "5.4.2"
DOCKERSPAWNER = "14.0.0"
OAUTHENTICATOR = "17.3.0"
IDLE_CULLER = "1.4.0"
NATIVEAUTHENTICATOR = "1.3.0"
PROMETHEUS_CLIENT = "0.21.1"
# configurable-http-proxy from Debian's node-configurable-http-proxy package
# (its own container), so no npm download sits on the image build path.

# Notebook image: the single-user environment.
JUPYTERLAB = "4.4.10"
NOTEBOOK_STACK = ("numpy==2.3.4", "pandas==2.3.3", "matplotlib==3.10.7", "scipy==1.16.3")
