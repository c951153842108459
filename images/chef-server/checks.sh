#!/bin/sh
# In-image checks of the chef-server AMI, run at the end of the bake (before
# the seal step wipes the bake-time data): the server must be installed and
# answer on its API; the first-boot unit that makes the organisation and
# admin must be installed and enabled; no organisation may exist yet.
set -eu

fail() { echo "chef-server check failed: $*" >&2; exit 1; }
ok() { echo "chef-server check: $*"; }

# Cinc Server's control command is cinc-server-ctl, Chef Infra Server's chef-server-ctl.
ctl=""
for candidate in cinc-server-ctl chef-server-ctl; do
  if command -v "$candidate" >/dev/null 2>&1; then ctl="$candidate"; break; fi
done
[ -n "$ctl" ] || fail "neither cinc-server-ctl nor chef-server-ctl is installed"

# The API's health endpoint answers {"status":"pong",...} when every
# component (erchef, bookshelf, postgres, search) is up.
i=0
until status="$(curl --silent --insecure --max-time 5 https://127.0.0.1/_status)" &&
  echo "$status" | grep -q '"status":"pong"'; do
  i=$((i + 1))
  [ "$i" -lt 30 ] || fail "the API does not answer pong on /_status: ${status:-no answer}"
  sleep 5
done
ok "Chef Server answers on its API"

[ -z "$("$ctl" org-list 2>/dev/null)" ] || fail "an organisation exists at bake time"
ok "no organisation baked in"

state="$(systemctl is-enabled swarmhub-chef-server-firstboot.service 2>/dev/null || true)"
[ "$state" = enabled ] || fail "first-boot unit is '$state', want enabled"
[ -x /usr/local/sbin/swarmhub-seal ] || fail "/usr/local/sbin/swarmhub-seal missing"
command -v aws >/dev/null 2>&1 || fail "the AWS CLI (keys to SSM) is missing"
ok "first-boot unit enabled, seal step and aws cli present"
