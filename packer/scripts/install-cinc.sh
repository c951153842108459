#!/bin/sh
# Install the pinned Cinc Client from its .deb, checked against a pinned
# SHA-256 before dpkg sees it (no piped install script, nothing unverified).
set -eu

: "${CINC_VERSION:?}" "${CINC_DEB_URL:?}" "${CINC_DEB_SHA256:?}"
deb=/tmp/cinc.deb

if command -v cinc-client >/dev/null 2>&1 &&
  cinc-client --version | grep -q "$CINC_VERSION"; then
  echo "cinc-client $CINC_VERSION already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# cloud-init may still hold the apt lock on a fresh instance.
cloud-init status --wait >/dev/null 2>&1 || true

curl --fail --silent --show-error --location --retry 5 --proto '=https' \
  --output "$deb" "$CINC_DEB_URL"
echo "$CINC_DEB_SHA256  $deb" | sha256sum --check --strict -
apt-get install -y --no-install-recommends "$deb"
rm -f "$deb"

cinc-client --version | grep -q "$CINC_VERSION" || {
  echo "cinc-client is not version $CINC_VERSION" >&2
  exit 1
}
