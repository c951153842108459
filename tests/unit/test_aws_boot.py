"""The AWS boot path the worker AMI bakes in: the engine label, the EFS mount,
the manager's `swarmhub-manager-up` and `swarmhub.aws.manager_up`.

Each script runs for real; what it talks to is replaced at its boundary: a fake
IMDS on 127.0.0.1 for the engine label, fake `docker`, `aws`, `mount`,
`mountpoint` and `sleep` on PATH for the shell scripts (as test_aws_deploy does
for the join script), and a fake Docker SDK client for manager_up.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from swarmhub.aws import manager_up
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.hub.settings import load
from swarmhub.swarm import specs as local
from tests.conftest import REPO
from tests.helpers import calls, fake_tools, run_script
from tests.unit.test_aws_deploy import render_tftpl

FILES = REPO / "cookbooks" / "swarmhub_worker" / "files"
ENGINE_LABEL = FILES / "swarmhub-engine-label"
EFS_MOUNT = FILES / "swarmhub-efs-mount"
MANAGER_UP = FILES / "swarmhub-manager-up"
INSTANCE = "i-0123456789abcdef0"
AWS_CREDENTIALS = FILES / "swarmhub-aws-credentials"


def _imds_time(hours: float) -> str:
    """A time `hours` from now, written as IMDS writes one."""
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# As IMDS hands out a role's credentials: updated an hour ago, good for five
# more. Relative to now, so botocore never finds them already expired.
ROLE_CREDENTIALS = {
    "Code": "Success",
    "Type": "AWS-HMAC",
    "AccessKeyId": "ASIAFAKEKEY",
    "SecretAccessKey": "fake-secret-key",
    "Token": "fake-session-token",
    "Expiration": _imds_time(5),
    "LastUpdated": _imds_time(-1),
}
TOKEN = "imds-token-1"


# ------------------------------------------------------------------ engine label


class _Imds(BaseHTTPRequestHandler):
    def do_PUT(self):  # noqa: N802 - http.server's name
        if self.path == "/latest/api/token" and self.headers.get(
            "X-aws-ec2-metadata-token-ttl-seconds"
        ):
            return self._answer(200, TOKEN)
        return self._answer(400, "bad token request")

    def do_GET(self):  # noqa: N802
        # IMDSv2 only, as the launch templates require.
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            return self._answer(401, "")
        if self.path == "/latest/meta-data/instance-id":
            return self._answer(200, INSTANCE)
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self._answer(200, "swarmhub-manager")
        if self.path == "/latest/meta-data/iam/security-credentials/swarmhub-manager":
            return self._answer(200, json.dumps(ROLE_CREDENTIALS))
        return self._answer(404, "")

    def _answer(self, code: int, body: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def imds():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Imds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_engine_label(imds_url: str, daemon_json: Path, attempts: int = 3, images_json=None):
    return subprocess.run(
        [str(ENGINE_LABEL)],
        env={
            "PATH": "/usr/bin:/bin",
            "SWARMHUB_IMDS_URL": imds_url,
            "SWARMHUB_DOCKER_DAEMON_JSON": str(daemon_json),
            "SWARMHUB_IMDS_ATTEMPTS": str(attempts),
            "SWARMHUB_IMAGES_JSON": str(images_json or daemon_json.parent / "no-images.json"),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_engine_label_is_merged_into_daemon_json_and_keeps_every_other_key(imds, tmp_path):
    daemon_json = tmp_path / "daemon.json"
    before = {
        "storage-driver": "overlay2",
        "log-opts": {"max-size": "10m"},
        # a label of someone else's is kept; a stale instance id (baked elsewhere) is not
        "labels": ["team=data", "swarmhub.instance-id=i-0000000000000000f"],
    }
    daemon_json.write_text(json.dumps(before))
    result = run_engine_label(imds, daemon_json)
    assert result.returncode == 0, result.stderr
    after = json.loads(daemon_json.read_text())
    assert after == {**before, "labels": ["team=data", f"swarmhub.instance-id={INSTANCE}"]}
    assert stat.S_IMODE(daemon_json.stat().st_mode) == 0o644
    assert not list(tmp_path.glob("*tmp*")), "no temporary file left behind"

    # Idempotent: a second boot changes nothing, not even the file's mtime.
    mtime = daemon_json.stat().st_mtime_ns
    again = run_engine_label(imds, daemon_json)
    assert again.returncode == 0, again.stderr
    assert "already set" in again.stdout
    assert daemon_json.stat().st_mtime_ns == mtime


def test_engine_label_names_the_baked_images_and_drops_stale_ones(imds, tmp_path):
    from swarmhub.hub import placement

    hub, notebook, old = ("sha256:" + c * 64 for c in "abc")
    images_json = tmp_path / "images.json"
    images_json.write_text(
        json.dumps({"hub": {"ref": "h:1", "id": hub}, "notebook": {"ref": "n:1", "id": notebook}})
    )
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text(
        json.dumps({"labels": ["team=data", f"{placement.image_label(old)}=true"]})
    )
    result = run_engine_label(imds, daemon_json, images_json=images_json)
    assert result.returncode == 0, result.stderr
    labels = json.loads(daemon_json.read_text())["labels"]
    # The very label the spawner's placement constraint asks for.
    assert labels == [
        "team=data",
        f"swarmhub.instance-id={INSTANCE}",
        *sorted(f"{placement.image_label(i)}=true" for i in (hub, notebook)),
    ]
    assert placement.image_constraints(notebook) == [
        f"engine.labels.{placement.image_label(notebook)}==true"
    ]


def test_engine_label_makes_daemon_json_when_there_is_none(imds, tmp_path):
    daemon_json = tmp_path / "daemon.json"
    result = run_engine_label(imds, daemon_json)
    assert result.returncode == 0, result.stderr
    assert json.loads(daemon_json.read_text()) == {"labels": [f"swarmhub.instance-id={INSTANCE}"]}


def test_engine_label_without_imds_fails_and_leaves_daemon_json_alone(tmp_path):
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text('{"storage-driver": "overlay2"}\n')
    # Nothing listens on port 9 of the loopback: connection refused at once.
    result = run_engine_label("http://127.0.0.1:9", daemon_json, attempts=1)
    assert result.returncode == 1
    assert "no instance id" in result.stderr
    assert daemon_json.read_text() == '{"storage-driver": "overlay2"}\n'


def test_the_baked_daemon_json_has_no_labels_so_the_boot_unit_is_their_one_writer():
    erb = (REPO / "cookbooks/swarmhub_worker/templates/daemon.json.erb").read_text()
    rendered = erb.replace("<%= @log_max_size %>", "10m").replace("<%= @log_max_file %>", "3")
    assert "labels" not in json.loads(rendered)


# ------------------------------------------------------------------ EFS mount


def run_efs(tmp_path, env, *, mount_rc: str = "0", mounted: str = "1", uptime: int = 40):
    # The clock is the uptime file: a fake `sleep N` moves it on by N seconds.
    clock = tmp_path / "uptime"
    clock.write_text(f"{uptime}.25 80.00\n")
    bindir, log = fake_tools(
        tmp_path,
        {
            "mount": f"exit {mount_rc}",
            "mountpoint": f"exit {mounted}",
            "sleep": f'awk -v n="$1" \'{{printf "%d.25 80.00\\n", $1 + n}}\' "{clock}" > '
            f'"{clock}.new" && mv "{clock}.new" "{clock}"',
        },
    )
    return run_script(EFS_MOUNT, bindir, {"SWARMHUB_UPTIME_FILE": str(clock), **env}), calls(log)


def run_aws_credentials(imds_url: str, out: Path, attempts: int = 2):
    return subprocess.run(
        [str(AWS_CREDENTIALS)],
        env={
            "PATH": "/usr/bin:/bin",
            "SWARMHUB_IMDS_URL": imds_url,
            "SWARMHUB_AWS_CREDENTIALS_DIR": str(out),
            "SWARMHUB_IMDS_ATTEMPTS": str(attempts),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_role_credentials_reach_a_file_botocore_reads_through_credential_process(
    imds, tmp_path, monkeypatch
):
    out = tmp_path / "aws"
    result = run_aws_credentials(imds, out)
    assert result.returncode == 0, result.stderr
    assert "fake-secret-key" not in result.stdout + result.stderr
    creds = out / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert json.loads(creds.read_text()) == {
        "Version": 1,
        "AccessKeyId": "ASIAFAKEKEY",
        "SecretAccessKey": "fake-secret-key",
        "SessionToken": "fake-session-token",
        "Expiration": ROLE_CREDENTIALS["Expiration"],
    }
    config = (out / "config").read_text()
    assert config == "[default]\ncredential_process = /bin/cat /etc/swarmhub/aws/credentials.json\n"
    # botocore, as in the hub container: the config's process, refreshable by Expiration.
    import botocore.session

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "config").write_text(config.replace("/etc/swarmhub/aws", str(out)))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    got = botocore.session.Session().get_credentials()
    assert got.method == "custom-process"
    assert got.get_frozen_credentials().access_key == "ASIAFAKEKEY"
    assert got._expiry_time is not None  # refreshed by Expiration, not held forever
    # Unchanged: not rewritten.
    before = creds.stat().st_mtime_ns
    assert run_aws_credentials(imds, out).returncode == 0
    assert creds.stat().st_mtime_ns == before


def test_role_credentials_without_imds_fail_and_write_nothing(tmp_path):
    out = tmp_path / "aws"
    result = run_aws_credentials("http://127.0.0.1:9", out, attempts=1)
    assert result.returncode == 1
    assert "no role credentials" in result.stderr
    assert not out.exists()


def test_efs_mount_uses_the_tls_and_iam_helper(tmp_path):
    mnt = tmp_path / "efs"
    result, made = run_efs(tmp_path, {"SWARMHUB_EFS_ID": "fs-0abc", "SWARMHUB_EFS_MOUNT": str(mnt)})
    assert result.returncode == 0, result.stderr
    assert made == [f"mountpoint -q {mnt}", f"mount -t efs -o tls,iam,_netdev fs-0abc:/ {mnt}"]
    assert mnt.is_dir()


def test_efs_mount_does_nothing_when_mounted_or_without_a_file_system(tmp_path):
    mnt = tmp_path / "efs"
    result, made = run_efs(
        tmp_path, {"SWARMHUB_EFS_ID": "fs-0abc", "SWARMHUB_EFS_MOUNT": str(mnt)}, mounted="0"
    )
    assert result.returncode == 0 and made == [f"mountpoint -q {mnt}"]
    (tmp_path / "calls.log").unlink()
    result, made = run_efs(tmp_path, {"SWARMHUB_EFS_MOUNT": str(mnt)})
    assert result.returncode == 0 and made == []


def test_efs_mount_retries_until_the_boot_deadline_then_gives_up(tmp_path):
    """A fresh deployment's mount targets take minutes: the mount keeps trying
    until the lifecycle handler's deadline, not for ~30 s."""
    mnt = tmp_path / "efs"
    env = {"SWARMHUB_EFS_ID": "fs-0abc", "SWARMHUB_EFS_MOUNT": str(mnt)}
    result, made = run_efs(tmp_path, {**env, "SWARMHUB_BOOT_DEADLINE": "600"}, mount_rc="32")
    assert result.returncode == 1
    mounts = [c for c in made if c.startswith("mount ")]
    sleeps = [c for c in made if c.startswith("sleep ")]
    # From 40 s after boot, every 5 s, until 600 s after boot.
    assert len(mounts) == (600 - 40) // 5 + 1
    assert set(sleeps) == {"sleep 5"}
    assert "by 600s after boot" in result.stderr
    assert (tmp_path / "uptime").read_text().startswith("600.")


def test_efs_mount_defaults_to_the_handlers_launch_timeout(tmp_path):
    mnt = tmp_path / "efs"
    env = {"SWARMHUB_EFS_ID": "fs-0abc", "SWARMHUB_EFS_MOUNT": str(mnt)}
    result, made = run_efs(tmp_path, env, mount_rc="32", uptime=590)
    assert result.returncode == 1
    assert len([c for c in made if c.startswith("mount ")]) == 3  # 590, 595, 600


JOIN_UNTIL = FILES / "swarmhub-join-until"


def run_join_until(tmp_path, uptime: int, deadline: str | None, script_body: str = "exit 0"):
    clock = tmp_path / "uptime"
    clock.write_text(f"{uptime}.50 10.00\n")
    bindir, log = fake_tools(
        tmp_path,
        {
            "timeout": 'shift 2; echo "attempts=$SWARMHUB_JOIN_ATTEMPTS" >> "$0.env"; exec "$@"',
            "join": script_body,
        },
    )
    env = {
        "SWARMHUB_UPTIME_FILE": str(clock),
        "SWARMHUB_JOIN_SCRIPT": str(bindir / "join"),
    }
    if deadline is not None:
        env["SWARMHUB_BOOT_DEADLINE"] = deadline
    result = run_script(JOIN_UNTIL, bindir, env)
    return result, calls(log)


@pytest.mark.parametrize(
    ("uptime", "deadline", "left"),
    [(70, None, 530), (100, "1800", 1700), (900, "600", 30)],
)
def test_the_join_runs_until_the_boot_deadline(tmp_path, uptime, deadline, left):
    result, made = run_join_until(tmp_path, uptime, deadline)
    assert result.returncode == 0, result.stderr
    assert made[0] == f"timeout --kill-after=10 {left} {tmp_path / 'bin' / 'join'}"
    assert f"up to {left}s" in result.stderr


def test_a_join_cut_by_the_deadline_says_so(tmp_path):
    result, _ = run_join_until(tmp_path, 70, "600", script_body="exit 124")
    assert result.returncode == 124
    assert "giving up at the boot deadline" in result.stderr


def test_join_and_mount_deadlines_are_the_handlers_launch_timeout():
    """One number: lifecycle.launch_timeout -> tfvars -> join.env -> both scripts."""
    from swarmhub.aws import deploy

    cfg = parse_config(
        {"aws": {"region": "eu-west-1"}, "lifecycle": {"launch_timeout": 1200}}, "x.yaml"
    )
    tfvars = deploy.render_tfvars(cfg, {"worker": "ami-0123456789abcdef0"})
    assert tfvars["worker_boot_deadline_seconds"] == 1200
    user_data = (REPO / "terraform/modules/workers/templates/user-data.sh.tftpl").read_text()
    assert "SWARMHUB_BOOT_DEADLINE=${boot_deadline}" in user_data
    root = (REPO / "terraform" / "main.tf").read_text()
    assert re.search(r"boot_deadline_seconds\s+= var\.worker_boot_deadline_seconds", root)
    unit = (REPO / "cookbooks/swarmhub_worker/templates/swarmhub-join.service.erb").read_text()
    assert "ExecStart=<%= @wrapper %>" in unit


# ------------------------------------------------------------------ swarmhub-manager-up


MANAGER_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "SWARMHUB_MANAGER_ADDR": "10.40.0.10:2377",
    "SWARMHUB_MANAGER_ENI": "eni-0abc",
    "SWARMHUB_STATE_DIR": "/var/lib/swarmhub",
    "SWARMHUB_EFS_MOUNT": "/srv/swarmhub/efs",
    "SWARMHUB_JOIN_TOKEN_PARAM": "/swarmhub/swarm/join-token",
    "SWARMHUB_GITHUB_SECRET_PARAM": "/swarmhub/hub/github-client-secret",
    "SWARMHUB_KMS_KEY": "arn:aws:kms:eu-west-1:123456789012:key/abc",
    "SWARMHUB_WORKER_ASG": "swarmhub-workers",
    "SWARMHUB_DOMAIN": "",
    "SWARMHUB_HUB_IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hub:1",
    "SWARMHUB_NOTEBOOK_IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/notebook:1",
}


HUB_ID = "sha256:" + "a" * 64
NOTEBOOK_ID = "sha256:" + "b" * 64


def run_manager_up(
    tmp_path, *, swarm="inactive", control="true", mounted="0", engine_hub_id=HUB_ID, **env
):
    stdin_log = tmp_path / "stdin.log"
    images_json = tmp_path / "images.json"
    images_json.write_text(
        json.dumps(
            {
                "hub": {"ref": MANAGER_ENV["SWARMHUB_HUB_IMAGE"], "id": HUB_ID},
                "notebook": {"ref": MANAGER_ENV["SWARMHUB_NOTEBOOK_IMAGE"], "id": NOTEBOOK_ID},
            }
        )
    )
    bindir, log = fake_tools(
        tmp_path,
        {
            "mountpoint": f"exit {mounted}",
            "sleep": "exit 0",
            "docker": (
                'case "$*" in\n'
                f"  *LocalNodeState*) echo {swarm} ;;\n"
                f"  *ControlAvailable*) echo {control} ;;\n"
                "  'swarm join-token -q worker') echo SWMTKN-1-faketoken ;;\n"
                f"  *image\\ inspect*/hub:*) echo {engine_hub_id} ;;\n"
                f"  *image\\ inspect*/notebook:*) echo {NOTEBOOK_ID} ;;\n"
                f'  run\\ *) {{ echo "docker-run-stdin: $(cat)"; }} >> "{stdin_log}" ;;\n'
                "esac"
            ),
            "aws": (
                'case "$*" in\n'
                "  *put-parameter*) "
                f'{{ echo "put-parameter-stdin: $(cat)"; }} >> "{stdin_log}" ;;\n'
                "  *get-parameter*) echo gh-client-secret ;;\n"
                "  *describe-network-interfaces*) echo 203.0.113.7 ;;\n"
                "esac"
            ),
        },
    )
    result = run_script(
        MANAGER_UP,
        bindir,
        {
            **MANAGER_ENV,
            "SWARMHUB_WAIT_SECONDS": "10",
            "SWARMHUB_IMAGES_JSON": str(images_json),
            "SWARMHUB_RUN_DIR": str(tmp_path / "run"),
            **env,
        },
    )
    stdin = stdin_log.read_text().splitlines() if stdin_log.exists() else []
    return result, calls(log), stdin


def test_manager_up_inits_the_swarm_publishes_the_token_and_runs_manager_up(tmp_path):
    result, made, stdin = run_manager_up(tmp_path)
    assert result.returncode == 0, result.stderr
    image = MANAGER_ENV["SWARMHUB_HUB_IMAGE"]
    assert made == [
        "mountpoint -q /var/lib/swarmhub",
        "mountpoint -q /var/lib/docker/swarm",
        # The baked images, checked by id before anything runs.
        f"docker image inspect --format {{{{.Id}}}} {image}",
        f"docker image inspect --format {{{{.Id}}}} {MANAGER_ENV['SWARMHUB_NOTEBOOK_IMAGE']}",
        "docker info --format {{.Swarm.LocalNodeState}}",
        "docker swarm init --advertise-addr 10.40.0.10 --listen-addr 10.40.0.10:2377 "
        "--default-addr-pool 10.128.0.0/12 --default-addr-pool-mask-length 20",
        "docker swarm join-token -q worker",
        "aws ssm put-parameter --name /swarmhub/swarm/join-token --type SecureString "
        f"--key-id {MANAGER_ENV['SWARMHUB_KMS_KEY']} --overwrite --value file:///dev/stdin",
        "aws ec2 describe-network-interfaces --network-interface-ids eni-0abc "
        "--query NetworkInterfaces[0].Association.PublicIp --output text",
        "aws ssm get-parameter --with-decryption --name /swarmhub/hub/github-client-secret "
        "--query Parameter.Value --output text",
        "docker rm --force swarmhub-manager-up",
        "docker run --rm -i --name swarmhub-manager-up "
        "--volume /var/run/docker.sock:/var/run/docker.sock "
        "--volume /var/lib/swarmhub:/var/lib/swarmhub "
        "--volume /etc/swarmhub/hub-config.json:/etc/swarmhub/hub-config.json:ro "
        f"{HUB_ID} python3 -m swarmhub.aws.manager_up "
        "--config /etc/swarmhub/hub-config.json --state-dir /var/lib/swarmhub "
        "--homes-host-dir /srv/swarmhub/efs/home --public-url http://203.0.113.7/ --domain  "
        "--asg-name swarmhub-workers --region eu-west-1 "
        f"--hub-image {HUB_ID} --notebook-image {NOTEBOOK_ID} "
        # Where user servers reach the hub: the manager's own fixed address.
        "--private-address 10.40.0.10 --github-secret-stdin",
    ]
    # Secrets travel on stdin only: never in argv, never in the log.
    assert stdin == [
        "put-parameter-stdin: SWMTKN-1-faketoken",
        "docker-run-stdin: gh-client-secret",
    ]
    assert not any("SWMTKN" in c or "gh-client-secret" in c for c in made)
    assert "SWMTKN" not in result.stderr and "gh-client-secret" not in result.stderr


def test_manager_up_publishes_the_join_token_once_per_boot_unless_it_changes(tmp_path):
    result, made, stdin = run_manager_up(tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "calls.log").unlink()
    (tmp_path / "stdin.log").unlink()
    # The 5-minute re-run: same token, no new SSM version.
    again, made, stdin = run_manager_up(tmp_path, swarm="active")
    assert again.returncode == 0, again.stderr
    assert not any("put-parameter" in c for c in made)
    assert "unchanged since this boot published it" in again.stderr
    assert "SWMTKN" not in (tmp_path / "run" / "join-token.sha256").read_text()


def test_manager_up_keeps_the_restored_swarm_and_serves_https_with_a_domain(tmp_path):
    result, made, _ = run_manager_up(tmp_path, swarm="active", SWARMHUB_DOMAIN="hub.example.org")
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith("docker swarm init") for c in made)
    assert not any("describe-network-interfaces" in c for c in made)
    assert "--public-url https://hub.example.org/ --domain hub.example.org" in made[-1]
    assert "raft state restored" in result.stderr


def test_manager_up_refuses_a_swarm_it_does_not_manage(tmp_path):
    result, made, _ = run_manager_up(tmp_path, swarm="active", control="false")
    assert result.returncode == 1
    assert not any(c.startswith(("aws", "docker run", "docker swarm")) for c in made)


def test_manager_up_refuses_a_hub_image_that_is_not_the_baked_one(tmp_path):
    other = "sha256:" + "c" * 64
    result, made, _ = run_manager_up(tmp_path, engine_hub_id=other)
    assert result.returncode == 1
    assert f"is {other} in the engine, the AMI was baked with {HUB_ID}" in result.stderr
    assert not any(c.startswith(("aws", "docker run", "docker swarm", "docker info")) for c in made)


def test_manager_up_never_inits_a_swarm_off_the_state_volume(tmp_path):
    result, made, _ = run_manager_up(tmp_path, mounted="1", SWARMHUB_WAIT_SECONDS="10")
    assert result.returncode == 1
    assert "not mounted after 10s" in result.stderr
    assert not any(c.startswith(("docker", "aws")) for c in made)


# ------------------------------------------------------------------ manager_up.py


class _Obj(SimpleNamespace):
    def remove(self):
        self.removed = True
        owner = getattr(self, "owner", None)
        if owner is not None and self in owner.items:
            owner.items.remove(self)


class FakeCollection:
    def __init__(self, kind: str, created: list):
        self.kind = kind
        self.items: list[_Obj] = []
        self.created = created

    def list(self, names=None, filters=None):
        wanted = (names or [None])[0] or (filters or {}).get("name")
        return [i for i in self.items if wanted is None or i.name == wanted]

    def create(self, *args, **kwargs):
        name = kwargs.get("name") or args[0]
        obj = _Obj(
            name=name, id=f"{self.kind}-{name}", args=args, kwargs=kwargs, attrs={"Spec": {}}
        )
        if self.kind == "service":
            obj.attrs = {"Spec": {"Labels": kwargs["labels"]}}
        obj.owner = self
        self.items.append(obj)
        self.created.append((self.kind, name))
        return obj


class FakeDocker:
    """The slice of the Docker SDK the local target's `_ensure_*` steps use."""

    def __init__(self):
        self.created: list[tuple[str, str]] = []
        self.networks = FakeCollection("network", self.created)
        self.secrets = FakeCollection("secret", self.created)
        self.services = FakeCollection("service", self.created)
        self.api = SimpleNamespace(containers=lambda **kw: [])  # a replaced task is gone


def manager(tmp_path, domain: str = "") -> manager_up.Manager:
    return manager_up.Manager(
        state_dir=tmp_path / "state",
        homes_host_dir="/srv/swarmhub/efs/home",
        public_url=f"https://{domain}/" if domain else "http://203.0.113.7/",
        domain=domain,
        asg_name="swarmhub-workers",
        region="eu-west-1",
        hub_image="sha256:" + "a" * 64,
        notebook_image="sha256:" + "b" * 64,
    )


def test_manager_up_makes_settings_secrets_network_and_services_once(tmp_path):
    cfg = parse_config({"aws": {"region": "eu-west-1"}}, "hub-config.json")
    m = manager(tmp_path)
    client = FakeDocker()
    manager_up.up(cfg, m, "", client)

    names = [n for kind, n in client.created if kind == "secret"]
    assert set(names) == {
        "swarmhub-proxy-token",
        "swarmhub-cli-token",
        "swarmhub-pool-token",
    }  # no shared passwords: this hub signs people in by their own accounts
    assert ("network", local.NETWORK) in client.created
    assert [n for kind, n in client.created if kind == "service"] == [local.PROXY, local.HUB]
    for name in names:  # generated once, on the state volume, only root may read them
        assert stat.S_IMODE((m.secrets_dir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(m.secrets_dir.stat().st_mode) == 0o700

    settings = load(str(m.hub_state / "settings.json"))
    assert settings.runtime.target == "aws"
    assert settings.runtime.asg_name == "swarmhub-workers"
    assert settings.runtime.homes_host_dir == "/srv/swarmhub/efs/home"
    assert settings.runtime.notebook_image == m.notebook_image
    assert settings.config.hub.https == "off"

    proxy, hub = client.services.items
    assert proxy.args == (m.hub_image,)
    assert proxy.kwargs["constraints"] == ["node.role==manager"]
    assert proxy.kwargs["mounts"] == [f"{m.hub_state}:/srv/jupyterhub:ro"]
    assert proxy.kwargs["endpoint_spec"]["Ports"][0]["PublishedPort"] == 80
    assert f"{m.hub_state}:/srv/jupyterhub:rw" in hub.kwargs["mounts"]
    assert "/srv/swarmhub/efs/home:/homes:rw" in hub.kwargs["mounts"]
    assert "AWS_DEFAULT_REGION=eu-west-1" in hub.kwargs["env"]
    # IMDS answers one hop: the hub alone mounts the role's credentials, read-only.
    assert "/run/swarmhub/aws:/etc/swarmhub/aws:ro" in hub.kwargs["mounts"]
    assert "AWS_CONFIG_FILE=/etc/swarmhub/aws/config" in hub.kwargs["env"]
    assert not any("/run/swarmhub/aws" in mount for mount in proxy.kwargs["mounts"])
    assert not any(e.startswith("AWS_CONFIG_FILE") for e in proxy.kwargs["env"])

    # Re-running (every boot, every renewal) changes nothing.
    before = list(client.created)
    manager_up.up(cfg, m, "", client)
    assert client.created == before


def github_cfg():
    """A manager's config with GitHub sign-in (its secret comes from SSM)."""
    return parse_config(
        {
            "aws": {"region": "eu-west-1"},
            "hub": {
                "auth": {
                    "kind": "github",
                    "admin_users": ["prof"],
                    "github": {"client_id": "x", "allowed_users": ["ada"]},
                }
            },
        },
        "hub-config.json",
    )


def test_manager_up_with_github_needs_the_real_secret_and_makes_it_a_swarm_secret(tmp_path):
    cfg = github_cfg()
    client = FakeDocker()
    with pytest.raises(SwarmhubError, match="not in SSM yet"):
        manager_up.up(
            cfg,
            manager(tmp_path),
            "unset: written by the manager at boot or by the operator",
            client,
        )
    assert client.created == [], "nothing is made before the check"
    manager_up.up(cfg, manager(tmp_path), "gh-secret\n", client)
    [secret] = [s for s in client.secrets.items if s.name == "swarmhub-github-client-secret"]
    assert secret.kwargs["data"] == b"gh-secret"
    hub = client.services.items[-1]
    assert "swarmhub-github-client-secret" in [r["SecretName"] for r in hub.kwargs["secrets"]]


def test_a_changed_github_secret_replaces_the_swarm_secret_and_the_hub_without_a_restart(
    tmp_path,
):
    """swarmhub-hub-sync.timer re-runs manager_up every 5 minutes: a rotated
    client secret in SSM reaches the hub; an unchanged one changes nothing."""
    cfg = github_cfg()
    m = manager(tmp_path)
    client = FakeDocker()
    manager_up.up(cfg, m, "first-secret", client)
    record = m.secrets_dir / "swarmhub-github-client-secret.sha256"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert "first-secret" not in record.read_text()
    proxy, hub = client.services.items

    before = list(client.created)
    manager_up.up(cfg, m, "first-secret", client)
    assert client.created == before, "unchanged: nothing replaced"

    manager_up.up(cfg, m, "second-secret", client)
    assert client.created[len(before) :] == [
        ("secret", "swarmhub-github-client-secret"),
        ("service", local.HUB),
    ]
    [secret] = [s for s in client.secrets.items if s.name == "swarmhub-github-client-secret"]
    assert secret.kwargs["data"] == b"second-secret"
    assert getattr(hub, "removed", False) and not getattr(proxy, "removed", False)
    timer = (REPO / "cookbooks/swarmhub_worker/templates/swarmhub-hub-sync.timer.erb").read_text()
    assert "OnUnitActiveSec=5min" in timer


def test_manager_up_with_a_domain_serves_the_lets_encrypt_certificate_on_443(tmp_path):
    cfg = parse_config({"aws": {"region": "eu-west-1"}}, "hub-config.json")
    m = manager(tmp_path, "hub.example.org")
    client = FakeDocker()
    with pytest.raises(SwarmhubError, match="no Let's Encrypt certificate"):
        manager_up.up(cfg, m, "", client)
    live = m.state_dir / "letsencrypt" / "live" / "hub.example.org"
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_text("CHAIN\n")
    (live / "privkey.pem").write_text("KEY\n")
    manager_up.up(cfg, m, "", client)
    assert (m.hub_state / "tls" / "cert.pem").read_text() == "CHAIN\n"
    assert stat.S_IMODE((m.hub_state / "tls" / "key.pem").stat().st_mode) == 0o600
    assert load(str(m.hub_state / "settings.json")).config.hub.https == "self-signed"
    proxy = client.services.items[0]
    assert proxy.kwargs["endpoint_spec"]["Ports"][0]["PublishedPort"] == 443

    # A renewed certificate replaces the proxy's task, nothing else.
    (live / "fullchain.pem").write_text("RENEWED\n")
    manager_up.up(cfg, m, "", client)
    assert [n for kind, n in client.created if kind == "service"][-1] == local.PROXY
    assert getattr(proxy, "removed", False)


# ------------------------------------------------------------------ manager user-data


def manager_user_data(hub_config: str, **values: str) -> str:
    """The manager's user-data as Terraform renders it for this hub config."""
    template = REPO / "terraform" / "modules" / "manager" / "templates" / "user-data.sh.tftpl"
    names = re.findall(r"(?<!\$)\$\{(\w+)\}", template.read_text())
    rendered = dict.fromkeys(names, "x")
    rendered.update(
        hub_config_bucket="swarmhub-hub-config-0001",
        hub_config_key="hub-config.json",
        hub_config_version="v3",
        # Terraform's sha256(): hex of the UTF-8 text.
        hub_config_sha256=hashlib.sha256(hub_config.encode()).hexdigest(),
        **values,
    )
    return render_tftpl(template, rendered)


def fetch_config(tmp_path: Path, user_data: str, served: str) -> subprocess.CompletedProcess:
    """The user-data's fetch of the hub config, run with a fake `aws` serving `served`."""
    start = user_data.index("config_tmp=")
    end = user_data.index("\ndone\n", start) + len("\ndone\n")
    block = user_data[start:end].replace("/etc/swarmhub", str(tmp_path))
    (tmp_path / "served.json").write_text(served)
    bindir, _ = fake_tools(
        tmp_path,
        {
            # get-object ... OUTFILE: the object lands in the last argument.
            "aws": 'for last; do :; done; cp "$(dirname "$0")/../served.json" "$last"',
            "sleep": "exit 0",
        },
    )
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + block],
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_manager_user_data_fetches_exactly_the_config_version_it_names(tmp_path):
    hub_config = json.dumps({"name": "swarmhub", "hub": {"port": 8000}})
    user_data = manager_user_data(hub_config, region="eu-west-1")
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    # The region too: cloud-init's shell has no AWS_DEFAULT_REGION.
    assert "s3api get-object --region 'eu-west-1' --bucket 'swarmhub-hub-config-0001'" in user_data
    assert "--key 'hub-config.json' --version-id 'v3'" in user_data

    result = fetch_config(tmp_path, user_data, hub_config)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "hub-config.json").read_text()) == json.loads(hub_config)
    calls_made = (tmp_path / "calls.log").read_text().splitlines()
    assert len([c for c in calls_made if c.startswith("aws s3api get-object")]) == 1


def test_a_config_that_is_not_the_one_named_never_reaches_the_hub(tmp_path):
    """Another deploy's config (or a corrupt read): retried, then one clear line."""
    user_data = manager_user_data(json.dumps({"name": "swarmhub"}))
    result = fetch_config(tmp_path, user_data, json.dumps({"name": "other"}))
    assert result.returncode == 1
    assert not (tmp_path / "hub-config.json").exists()
    assert "cannot read the hub config s3://swarmhub-hub-config-0001/hub-config.json" in (
        result.stderr
    )
    gets = [c for c in (tmp_path / "calls.log").read_text().splitlines() if "get-object" in c]
    assert len(gets) == 60  # 5 minutes at 5 s


def ten_courses_of_300() -> str:
    """The hub config deploy renders for 10 courses of 300 students each."""
    courses = [
        {
            "name": f"course-{c}",
            "roster": [
                f"student-{c:02d}-{i:04d}-{(c * 7919 + i * 104729) % 99991:05d}" for i in range(300)
            ],
            "staff": [f"teacher-{c}"],
            "start": "2026-09-01",
            "end": "2027-01-31",
        }
        for c in range(10)
    ]
    cfg = parse_config(
        {
            "courses": courses,
            "aws": {"region": "eu-west-1", "fleet": {"backend": {"bucket": "tf-state"}}},
        },
        "swarmhub.yaml",
    )
    from swarmhub.aws.deploy import render_tfvars

    return render_tfvars(cfg, {"worker": "ami-0123456789abcdef0"})["hub_config"]


def test_manager_user_data_stays_under_ec2s_limit_however_large_the_config():
    """EC2 refuses user-data over 16,384 bytes (moto does not): rendered the
    way the manager module renders it (its templatefile() arguments, gzip),
    with every other value at its longest."""
    import gzip as gz

    main = (REPO / "terraform" / "modules" / "manager" / "main.tf").read_text()
    block = re.search(r"templatefile\(\"[^\"]*\", \{\n(.*?)\n  \}\)", main, re.S).group(1)
    hub_config = ten_courses_of_300()
    assert len(hub_config) > 16384 * 4
    values = {}
    for line in block.splitlines():
        key, expr = (part.strip() for part in line.split("=", 1))
        if expr == "base64gzip(var.hub_config)":
            values[key] = base64.b64encode(gzip.compress(hub_config.encode())).decode()
        elif expr == "sha256(var.hub_config)":
            values[key] = hashlib.sha256(hub_config.encode()).hexdigest()
        else:
            assert "hub_config" not in expr or "aws_s3" in expr, expr
            # A domain or an address may be 253 characters; ids and ARNs less.
            values[key] = "x" * 253
    template = REPO / "terraform" / "modules" / "manager" / "templates" / "user-data.sh.tftpl"
    user_data = render_tftpl(template, values)
    assert hub_config not in user_data
    # What EC2 counts: the raw bytes, gzipped when the launch template says so.
    gzipped = (
        "user_data_gzip_b64 = base64gzip(local.user_data)" in main
        and "user_data              = local.user_data_gzip_b64" in main
    )
    size = len(gz.compress(user_data.encode()) if gzipped else user_data.encode())
    assert size <= 16384, f"the manager's user-data is {size} bytes"
    # The limit is also checked in the plan, before any apply.
    assert "condition     = local.user_data_bytes <= local.user_data_limit" in main


def test_manager_user_data_enables_the_baked_units():
    user_data = manager_user_data("{}")
    units = REPO / "cookbooks" / "swarmhub_worker" / "templates"
    # Enabled for every boot, started without waiting for each other
    # (tests/unit/test_aws_manager_boot.py has the boot path itself).
    for unit in ("swarmhub-hub.service", "swarmhub-lifecycle.service"):
        assert f"systemctl start --no-block {unit}" in user_data
        assert (units / f"{unit}.erb").is_file()
    # The swarm and the token are the baked unit's job, at every start of it.
    assert "docker swarm init" not in user_data and "put-parameter" not in user_data
    env_keys = {
        line.split("=", 1)[0]
        for line in user_data.split("<<'SWARMHUB_ENV'\n")[1].split("SWARMHUB_ENV\n")[0].splitlines()
    }
    script_text = MANAGER_UP.read_text()
    needed = set(re.findall(r'"\$\{(SWARMHUB_[A-Z_]+|AWS_[A-Z_]+):\?\}"', script_text))
    assert len(needed) >= 10
    assert needed - {"SWARMHUB_HUB_IMAGE", "SWARMHUB_NOTEBOOK_IMAGE"} <= env_keys
    lifecycle = (units / "swarmhub-lifecycle.service.erb").read_text()
    for key in ("SWARMHUB_LIFECYCLE_QUEUE_URL", "SWARMHUB_WORKER_ASG", "AWS_DEFAULT_REGION"):
        assert key in env_keys and f"${{{key}}}" in lifecycle


# ------------------------------------------------------------------ syntax


@pytest.mark.parametrize("path", [EFS_MOUNT, MANAGER_UP], ids=lambda p: p.name)
def test_shell_scripts_are_posix_sh(path):
    text = path.read_text()
    assert text.startswith("#!/bin/sh\n") and "\nset -eu\n" in text
    assert os.access(path, os.X_OK)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0


def test_engine_label_script_is_stdlib_python():
    text = ENGINE_LABEL.read_text()
    assert text.startswith("#!/usr/bin/python3\n")
    assert os.access(ENGINE_LABEL, os.X_OK)
    compile(text, str(ENGINE_LABEL), "exec")
    imports = {
        line.split()[1].split(".")[0]
        for line in text.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= {"json", "os", "sys", "time", "urllib"}


def test_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:  # not yet in scripts/install-deps: optional here
        pytest.skip("shellcheck is not installed")
    checks = REPO / "images" / "worker" / "checks.sh"
    result = subprocess.run(
        [shellcheck, "-s", "sh", str(EFS_MOUNT), str(MANAGER_UP), str(checks)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_servers_reach_the_hub_at_the_managers_own_address(tmp_path):
    # A new hub container has a new overlay address; the manager's does not change.
    from dataclasses import replace

    m = replace(manager(tmp_path), private_address="10.40.0.10")
    assert manager_up.runtime(m).hub_connect_url == "http://10.40.0.10:8081"
    assert manager_up.runtime(manager(tmp_path)).hub_connect_url == ""


# ------------------------------------------------------------------ port 80 with a domain


HTTP_REDIRECT = FILES / "swarmhub-http-redirect"


@pytest.fixture
def http_redirect(tmp_path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    webroot = tmp_path / "acme"
    proc = subprocess.Popen(
        [str(HTTP_REDIRECT)],
        env={
            "PATH": "/usr/bin:/bin",
            "SWARMHUB_DOMAIN": "hub.example.org",
            "SWARMHUB_ACME_WEBROOT": str(webroot),
            "SWARMHUB_HTTP_PORT": str(port),
            "SWARMHUB_HTTP_ADDR": "127.0.0.1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10  # wait (bounded) for it to listen
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(
                    f"swarmhub-http-redirect did not listen on {port} in 10 s"
                ) from None
            time.sleep(0.05)
    yield port, webroot
    proc.terminate()
    proc.wait(timeout=10)


def _http(port: int, method: str, path: str, host: str = "hub.example.org"):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, headers={"Host": host})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.getheader("Location"), body


def test_port_80_answers_acme_challenges_and_redirects_everything_else(http_redirect):
    port, webroot = http_redirect
    challenge = webroot / ".well-known" / "acme-challenge"
    assert challenge.is_dir(), "made at start, for certbot --webroot"
    (challenge / "tok-EN_1").write_text("tok-EN_1.thumbprint")
    assert _http(port, "GET", "/.well-known/acme-challenge/tok-EN_1")[::2] == (
        200,
        b"tok-EN_1.thumbprint",
    )
    assert _http(port, "GET", "/.well-known/acme-challenge/missing")[0] == 404
    assert _http(port, "GET", "/.well-known/acme-challenge/..%2f..%2fetc")[0] == 404
    # Everything else goes to https on the domain, whatever Host the client sent.
    assert _http(port, "GET", "/hub/login?next=%2Fhub%2F", host="evil.example")[:2] == (
        301,
        "https://hub.example.org/hub/login?next=%2Fhub%2F",
    )
    assert _http(port, "GET", "/")[:2] == (301, "https://hub.example.org/")
    assert _http(port, "POST", "/hub/api")[:2] == (308, "https://hub.example.org/hub/api")
