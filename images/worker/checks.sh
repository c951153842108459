#!/bin/sh
# In-image checks of the worker AMI, run at the end of the bake: any failure
# fails the build, so no AMI is registered that cannot do its one job at
# boot (join the swarm with nothing to install or pull).
#
# SWARMHUB_EXPECTED_IMAGES: space-separated image references that must be
# present in the engine (from aws.ami.notebook_image / hub_image).
set -eu

fail() { echo "worker check failed: $*" >&2; exit 1; }
ok() { echo "worker check: $*"; }

systemctl is-active --quiet docker || fail "docker.service is not running"
systemctl is-enabled --quiet docker || fail "docker.service is not enabled at boot"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer"
[ "$(docker info --format '{{.Driver}}')" = overlay2 ] || fail "storage driver is not overlay2"
# A node must boot outside any swarm: the join is user-data's decision.
[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ] ||
  fail "the engine is already in a swarm"
ok "docker engine up (overlay2, no swarm)"

[ -n "${SWARMHUB_EXPECTED_IMAGES:-}" ] || fail "no expected images given"
for image in $SWARMHUB_EXPECTED_IMAGES; do
  docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is not loaded"
  ok "image $image present"
done
# The local bake's images (ref=id): loaded from the archives as exactly those ids.
for pair in ${SWARMHUB_EXPECTED_IMAGE_IDS:-}; do
  ref="${pair%=*}" want="${pair##*=}"
  have="$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)"
  [ "$have" = "$want" ] || fail "image $ref is ${have:-absent}, the bake saved $want"
  ok "image $ref is $want"
done
# The AMI's record of its images, read by the manager's boot and the engine label.
[ -s /etc/swarmhub/images.json ] || fail "/etc/swarmhub/images.json missing"
for name in hub notebook; do
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))[sys.argv[2]]["id"]' \
    /etc/swarmhub/images.json "$name" 2>/dev/null || fail "/etc/swarmhub/images.json names no $name id"
done
ok "/etc/swarmhub/images.json names the hub and notebook ids"

[ -x /usr/local/sbin/swarm-join.sh ] || fail "/usr/local/sbin/swarm-join.sh missing"
systemctl cat swarmhub-join.service >/dev/null 2>&1 || fail "swarmhub-join.service not installed"
# Disabled until user-data writes /etc/swarmhub/join.env and enables it.
state="$(systemctl is-enabled swarmhub-join.service 2>/dev/null || true)"
[ "$state" = disabled ] || fail "swarmhub-join.service is '$state', want disabled"
[ ! -e /etc/swarmhub/join.env ] || fail "/etc/swarmhub/join.env must not be baked in"
ok "join unit installed and disabled"

# The engine label must be written before dockerd starts, on every boot.
enabled() { [ "$(systemctl is-enabled "$1" 2>/dev/null || true)" = enabled ]; }
[ -x /usr/local/sbin/swarmhub-engine-label ] || fail "/usr/local/sbin/swarmhub-engine-label missing"
enabled swarmhub-engine-label.service || fail "swarmhub-engine-label.service is not enabled"
systemctl show -p Before swarmhub-engine-label.service | grep -q docker.service ||
  fail "swarmhub-engine-label.service is not ordered before docker.service"
# Written at boot from the instance's own id, never baked from the build's.
! grep -q swarmhub.instance-id /etc/docker/daemon.json ||
  fail "/etc/docker/daemon.json holds a baked swarmhub.instance-id label"
ok "engine label unit installed and enabled"

# EFS with TLS and IAM: the file system policy refuses anything else.
command -v mount.efs >/dev/null 2>&1 || fail "no EFS mount helper (mount.efs, amazon-efs-utils)"
command -v stunnel >/dev/null 2>&1 || fail "stunnel (efs-utils' TLS tunnel) missing"
[ -x /usr/local/sbin/swarmhub-efs-mount ] || fail "/usr/local/sbin/swarmhub-efs-mount missing"
enabled swarmhub-efs.service || fail "swarmhub-efs.service is not enabled"
systemctl show -p Wants swarmhub-join.service | grep -q swarmhub-efs.service ||
  fail "swarmhub-join.service does not pull in the EFS mount"
ok "EFS mount helper and unit present"

# The manager role: certbot, the hub and lifecycle units, disabled until the
# manager's user-data enables them.
command -v certbot >/dev/null 2>&1 || fail "certbot missing (the hub's certificate)"
[ -x /usr/local/sbin/swarmhub-manager-up ] || fail "/usr/local/sbin/swarmhub-manager-up missing"
[ -s /etc/swarmhub/images.env ] || fail "/etc/swarmhub/images.env missing"
[ -x /usr/local/sbin/swarmhub-aws-credentials ] || fail "/usr/local/sbin/swarmhub-aws-credentials missing"
[ -x /usr/local/sbin/swarmhub-http-redirect ] || fail "/usr/local/sbin/swarmhub-http-redirect missing"
# unit:state. swarmhub-hub-sync.service has no [Install] section (only its
# timer starts it), so systemctl calls it "static", never "disabled".
for pair in swarmhub-hub.service:disabled swarmhub-lifecycle.service:disabled \
  swarmhub-aws-credentials.service:disabled swarmhub-aws-credentials.timer:disabled \
  swarmhub-http-redirect.service:disabled swarmhub-hub-sync.service:static \
  swarmhub-hub-sync.timer:disabled; do
  unit="${pair%:*}" want="${pair#*:}"
  state="$(systemctl is-enabled "$unit" 2>/dev/null || true)"
  [ "$state" = "$want" ] || fail "$unit is '$state', want $want"
done
[ ! -e /etc/swarmhub/manager.env ] || fail "/etc/swarmhub/manager.env must not be baked in"
ok "manager units installed and disabled"

command -v aws >/dev/null 2>&1 || fail "the AWS CLI (for the SSM join token) is missing"
command -v mount.nfs4 >/dev/null 2>&1 || fail "no NFS client (mount.nfs4) for EFS"
command -v cinc-client >/dev/null 2>&1 || fail "cinc-client missing (enrollment)"
state="$(systemctl is-enabled swarmhub-enroll.service 2>/dev/null || true)"
[ "$state" = disabled ] || fail "swarmhub-enroll.service is '$state', want disabled"
ok "aws cli, nfs client and cinc client present"
