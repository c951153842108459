#!/bin/sh
# swarm-join.sh: make this machine's Docker engine a member of the swarm.
#
# The one join path for every node: on AWS the worker AMI's
# swarmhub-join.service runs it at boot (its environment file is written by
# user-data); on the local target the node pool runs it against each local
# node's dockerd. Nothing is installed or pulled here: the images are already
# in the engine, so a node is capacity as soon as it has joined.
#
# Environment:
#   SWARMHUB_MANAGER_ADDR       manager address, host[:port] (port 2377 by default)
#   SWARMHUB_ROLE               worker (default) or manager
#   SWARMHUB_JOIN_TOKEN_FILE    file holding the join token (local target), or
#   SWARMHUB_JOIN_TOKEN_PARAM   SSM SecureString parameter holding it (AWS)
#   SWARMHUB_ADVERTISE_ADDR     address to advertise (default: docker decides)
#   SWARMHUB_JOIN_ATTEMPTS      tries before giving up (default 30, 5 s apart)
#   DOCKER_HOST                 the engine to join (default: the local socket)
# The token is never echoed nor written anywhere by this script.
set -eu

log() { echo "swarm-join: $*" >&2; }

: "${SWARMHUB_MANAGER_ADDR:?SWARMHUB_MANAGER_ADDR is not set}"
role="${SWARMHUB_ROLE:-worker}"
attempts="${SWARMHUB_JOIN_ATTEMPTS:-30}"

state="$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unreachable)"
case "$state" in
  active)
    log "already a swarm member, nothing to do"
    exit 0
    ;;
  unreachable)
    log "the Docker engine does not answer (DOCKER_HOST=${DOCKER_HOST:-default})"
    exit 1
    ;;
esac

read_token() {
  if [ -n "${SWARMHUB_JOIN_TOKEN_FILE:-}" ]; then
    cat "$SWARMHUB_JOIN_TOKEN_FILE"
  elif [ -n "${SWARMHUB_JOIN_TOKEN_PARAM:-}" ]; then
    aws ssm get-parameter --with-decryption --name "$SWARMHUB_JOIN_TOKEN_PARAM" \
      --query Parameter.Value --output text
  else
    log "set SWARMHUB_JOIN_TOKEN_FILE or SWARMHUB_JOIN_TOKEN_PARAM"
    return 2
  fi
}

case "$SWARMHUB_MANAGER_ADDR" in
  *:*) manager="$SWARMHUB_MANAGER_ADDR" ;;
  *) manager="$SWARMHUB_MANAGER_ADDR:2377" ;;
esac

i=1
while :; do
  # The manager may still be booting, or (after a manager replacement) the
  # token may be re-published: read it afresh on every attempt.
  if token="$(read_token)" && [ -n "$token" ]; then
    if [ -n "${SWARMHUB_ADVERTISE_ADDR:-}" ]; then
      set -- --advertise-addr "$SWARMHUB_ADVERTISE_ADDR"
    else
      set --
    fi
    if docker swarm join --token "$token" "$@" "$manager" >/dev/null 2>&1; then
      log "joined $manager as a $role"
      exit 0
    fi
    # A join that timed out may still have gone through.
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]; then
      log "joined $manager as a $role"
      exit 0
    fi
  fi
  if [ "$i" -ge "$attempts" ]; then
    log "could not join $manager after $attempts attempts"
    exit 1
  fi
  i=$((i + 1))
  sleep 5
done
