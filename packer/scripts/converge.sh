#!/bin/sh
# Converge the uploaded policy archive with Cinc Client in local mode.
#
# The archive is either `cinc export --archive` output or the bake's
# local-mode twin; both carry .chef/config.rb at their root. Attributes
# (image references, SSM parameter names...) come from attributes.json,
# rendered by the bake from swarmhub.yaml.
set -eu

dir="${SWARMHUB_REMOTE_DIR:?}"
rm -rf "$dir/policy"
mkdir -p "$dir/policy"
tar -xzf "$dir/policy.tgz" -C "$dir/policy"

cd "$dir/policy"
# CHEF_LICENSE: harmless for Cinc, and keeps a Chef-branded client from prompting.
CHEF_LICENSE=accept-silent cinc-client --local-mode \
  --config "$dir/policy/.chef/config.rb" \
  --json-attributes "$dir/attributes.json" \
  --no-color --log_level warn
