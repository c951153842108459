"""The manager's boot path: the script its user-data installs and the unit that
runs it on every boot, so a reboot and a replacement both bring back the role.

The rendered `swarmhub-manager-boot` runs for real under bash, with every
tool it drives (aws, curl, ip, iptables, mount, mountpoint, systemctl,
certbot, ...) replaced by a logging fake on PATH and the system's paths
pointed into tmp_path.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers import calls, fake_tools
from tests.unit.test_aws_deploy import render_tftpl

TEMPLATE = REPO / "terraform" / "modules" / "manager" / "templates" / "user-data.sh.tftpl"
UNITS = REPO / "cookbooks" / "swarmhub_worker" / "templates"
INSTANCE = "i-0new"
MAC = "0a:1b:2c:3d:4e:5f"
VOLUME = "vol-0abc"
ENV = {
    "SWARMHUB_MANAGER_ADDR": "10.40.0.50:2377",
    "SWARMHUB_MANAGER_ENI": "eni-0abc",
    "SWARMHUB_ENI_PREFIX_LENGTH": "24",
    "SWARMHUB_ENI_GATEWAY": "10.40.0.1",
    "SWARMHUB_STATE_VOLUME": VOLUME,
    "SWARMHUB_EFS_ID": "fs-0abc",
    "SWARMHUB_DOMAIN": "",
    "SWARMHUB_LETSENCRYPT_EMAIL": "",
}


def user_data() -> str:
    names = re.findall(r"(?<!\$)\$\{(\w+)\}", TEMPLATE.read_text())
    values = {name: f"<{name}>" for name in names}
    values["domain"] = ""
    return render_tftpl(TEMPLATE, values)


def heredoc(text: str, marker: str, path: str) -> str:
    match = re.search(rf"cat > {re.escape(path)} <<'{marker}'\n(.*?)\n{marker}\n", text, re.S)
    assert match, f"{path} is not written by the user-data"
    return match.group(1) + "\n"


def boot_script(tmp_path: Path) -> Path:
    script = tmp_path / "swarmhub-manager-boot"
    text = heredoc(user_data(), "SWARMHUB_BOOT", "/usr/local/sbin/swarmhub-manager-boot")
    script.write_text(text)
    return script


def run_boot(
    tmp_path: Path,
    *,
    eni_owner: str,
    volume_owner: str,
    docker_active: bool,
    efs_mounts: bool = True,
    certbot_ok: bool = True,
    resolves_to: str = "203.0.113.7",
    args: tuple[str, ...] = (),
    blkid_exit: int = 0,
    disk_bytes: bytes = b"",
    **env: str,
):
    disks = tmp_path / "disks"
    disks.mkdir()
    (disks / f"nvme-Amazon_Elastic_Block_Store_{VOLUME.replace('-', '')}").write_bytes(disk_bytes)
    bindir, log = fake_tools(
        tmp_path,
        {
            "curl": (
                f'case "$*" in *api/token*) echo tok ;; *instance-id*) echo {INSTANCE} ;; '
                "*ami-id*) echo ami-0new ;; esac"
            ),
            "aws": (
                'case "$*" in\n'
                f"  *describe-network-interfaces*Attachment*) echo {eni_owner} ;;\n"
                f"  *describe-network-interfaces*MacAddress*) echo {MAC} ;;\n"
                "  *describe-network-interfaces*PublicIp*) echo 203.0.113.7 ;;\n"
                f"  *describe-volumes*) echo {volume_owner} ;;\n"
                "esac"
            ),
            "ip": (
                'case "$*" in\n'
                f"  '-o link') echo '2: ens5: <UP> link/ether 0a:00:00:00:00:01'; "
                f"echo '3: ens6: <BROADCAST> link/ether {MAC} brd ff:ff:ff:ff:ff:ff' ;;\n"
                "esac"
            ),
            "iptables": 'case "$*" in *-C*) exit 1 ;; esac',
            "sysctl": "exit 0",
            "blkid": f"exit {blkid_exit}",
            "mkfs.ext4": "exit 0",
            "mountpoint": "exit 1",  # a fresh boot: nothing is mounted
            "mount": 'case "$*" in *efs*) exit ' + ("0" if efs_mounts else "32") + " ;; esac",
            "systemctl": (
                'case "$*" in *is-active*) exit ' + ("0" if docker_active else "3") + " ;; esac"
            ),
            "certbot": "exit " + ("0" if certbot_ok else "1"),
            "getent": (
                f"[ -z '{resolves_to}' ] || printf '%s STREAM x\\n%s DGRAM\\n' "
                f"'{resolves_to}' '{resolves_to}'"
            ),
            "sleep": "exit 0",
        },
    )
    full_env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        **ENV,
        "SWARMHUB_STATE_DIR": str(tmp_path / "state"),
        "SWARMHUB_EFS_MOUNT": str(tmp_path / "efs"),
        "SWARMHUB_SWARM_DIR": str(tmp_path / "docker-swarm"),
        "SWARMHUB_LETSENCRYPT_DIR": str(tmp_path / "letsencrypt"),
        "SWARMHUB_FSTAB": str(tmp_path / "fstab"),
        "SWARMHUB_DISKS_DIR": str(disks),
        "SWARMHUB_RUN_DIR": str(tmp_path / "run"),
        "SWARMHUB_ACME_WEBROOT": str(tmp_path / "acme"),
        **env,
    }
    (tmp_path / "fstab").touch()
    result = subprocess.run(
        ["bash", str(boot_script(tmp_path)), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, calls(log)


def test_a_reboot_puts_back_address_routes_mounts_and_homes_without_attaching(tmp_path):
    """Same instance: the interface and volume are still attached, everything
    else was forgotten; Docker has not started yet (the unit runs before it)."""
    result, made = run_boot(
        tmp_path, eni_owner=INSTANCE, volume_owner=INSTANCE, docker_active=False
    )
    assert result.returncode == 0, result.stderr
    assert not [c for c in made if "attach-" in c]
    assert "ip addr add 10.40.0.50/24 dev ens6" in made
    assert "ip route replace default via 10.40.0.1 dev ens6 onlink table 100" in made
    assert "ip rule add from 10.40.0.50 table 100 priority 100" in made
    assert "ip rule add fwmark 0x100/0x100 table 100 priority 101" in made
    marks = [c for c in made if c.startswith("iptables -t mangle -A PREROUTING")]
    assert len(marks) == 2 and "-i ens6 -m conntrack --ctstate NEW -j CONNMARK" in marks[0]
    disk = next(c for c in made if c.startswith("mount ") and "nvme-Amazon" in c)
    assert disk.endswith(str(tmp_path / "state"))
    bind = f"mount --bind {tmp_path / 'state' / 'swarm'} {tmp_path / 'docker-swarm'}"
    assert bind in made
    # Docker is ordered after this unit: neither stopped nor started from here.
    assert not [c for c in made if re.match(r"systemctl (stop|start)", c)]
    assert "mount -t efs -o tls,iam fs-0abc:/ " + str(tmp_path / "efs") in made
    assert (tmp_path / "letsencrypt").is_symlink()
    assert "role taken over: 10.40.0.50:2377 on ens6" in result.stderr
    # The lifecycle handler learns this boot's AMI (mixed fleets in an upgrade).
    assert (tmp_path / "run" / "instance.env").read_text() == "SWARMHUB_AMI_ID=ami-0new\n"


def test_a_replacement_takes_the_interface_and_volume_and_restarts_docker_once(tmp_path):
    result, made = run_boot(tmp_path, eni_owner="i-0old", volume_owner="None", docker_active=True)
    assert result.returncode == 0, result.stderr
    assert (
        "aws ec2 attach-network-interface --network-interface-id eni-0abc "
        f"--instance-id {INSTANCE} --device-index 1" in made
    )
    attach = f"aws ec2 attach-volume --volume-id {VOLUME} --instance-id {INSTANCE}"
    assert f"{attach} --device /dev/sdf" in made
    stop = made.index("systemctl stop docker.service docker.socket")
    bind = next(i for i, c in enumerate(made) if c.startswith("mount --bind"))
    # --no-block: a start job for Docker, ordered after this very unit, would wait forever.
    start = made.index("systemctl start --no-block docker.service")
    assert stop < bind < start


def test_no_certificate_yet_is_not_a_failed_boot(tmp_path):
    """A domain whose record does not resolve yet: the timer retries, the boot goes on."""
    result, made = run_boot(
        tmp_path,
        eni_owner=INSTANCE,
        volume_owner=INSTANCE,
        docker_active=False,
        certbot_ok=False,
        SWARMHUB_DOMAIN="hub.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert [c for c in made if c.startswith("certbot certonly --webroot")]
    assert "swarmhub-certificate.timer retries" in result.stderr


@pytest.mark.parametrize("resolves_to", ["", "198.51.100.9"])
def test_no_lets_encrypt_request_before_the_name_points_at_the_hub(tmp_path, resolves_to):
    """Failed validations count against Let's Encrypt's hourly limit: the timer
    asks only once the domain resolves to the hub's Elastic IP."""
    result, made = run_boot(
        tmp_path,
        eni_owner=INSTANCE,
        volume_owner=INSTANCE,
        docker_active=False,
        resolves_to=resolves_to,
        args=("certificate",),
        SWARMHUB_DOMAIN="hub.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert not [c for c in made if c.startswith("certbot")]
    assert "not yet to 203.0.113.7" in result.stderr


def test_the_timer_gets_the_certificate_and_restarts_the_hub(tmp_path):
    result, made = run_boot(
        tmp_path,
        eni_owner=INSTANCE,
        volume_owner=INSTANCE,
        docker_active=False,
        args=("certificate",),
        SWARMHUB_DOMAIN="hub.example.org",
        SWARMHUB_LETSENCRYPT_EMAIL="ops@example.org",
    )
    assert result.returncode == 0, result.stderr
    (certbot,) = [c for c in made if c.startswith("certbot")]
    # HTTP-01 through the port-80 responder's webroot (first issue and renewals).
    assert certbot.startswith(f"certbot certonly --webroot -w {tmp_path / 'acme'} ")
    assert "--email ops@example.org -d hub.example.org" in certbot
    assert made.index("systemctl start swarmhub-http-redirect.service") < made.index(certbot)
    assert "systemctl restart --no-block swarmhub-hub.service" in made
    # Only the address lookup; no attach, no mount.
    assert [c for c in made if c.startswith(("aws", "mount"))] == [
        "aws ec2 describe-network-interfaces --network-interface-ids "
        f"{ENV['SWARMHUB_MANAGER_ENI']} --query NetworkInterfaces[0].Association.PublicIp "
        "--output text"
    ]


def test_homes_that_do_not_mount_keep_the_hub_down(tmp_path):
    """Without EFS the homes would land on the root disk: the boot fails, so
    the hub (Requires=) does not start; the lifecycle handler is not bound to it."""
    result, made = run_boot(
        tmp_path, eni_owner=INSTANCE, volume_owner=INSTANCE, docker_active=False, efs_mounts=False
    )
    assert result.returncode == 1
    assert "gave up after 120 attempts: mount -t efs" in result.stderr


def test_units_run_the_boot_on_every_boot_and_never_hold_up_the_lifecycle_handler():
    text = user_data()
    unit = heredoc(text, "SWARMHUB_UNIT", "/etc/systemd/system/swarmhub-manager-boot.service")
    assert "WantedBy=multi-user.target" in unit
    assert "Before=docker.service swarmhub-hub.service swarmhub-lifecycle.service" in unit
    hub_drop_in = "/etc/systemd/system/swarmhub-hub.service.d/10-boot.conf"
    drop_in = heredoc(text, "SWARMHUB_UNIT", hub_drop_in)
    assert "Requires=swarmhub-manager-boot.service" in drop_in
    assert (
        "systemctl enable swarmhub-manager-boot.service swarmhub-lifecycle.service "
        "swarmhub-hub.service" in text
    )
    # The first boot goes on to the lifecycle handler whatever the boot did.
    lines = text.splitlines()
    boot = lines.index(
        "systemctl start swarmhub-manager-boot.service || "
        'echo "swarmhub-manager: see journalctl -u swarmhub-manager-boot" >&2'
    )
    assert lines[boot + 1] == "systemctl start --no-block swarmhub-lifecycle.service"
    lifecycle = (UNITS / "swarmhub-lifecycle.service.erb").read_text()
    assert "swarmhub-hub.service" not in re.search(r"^After=.*$", lifecycle, re.M).group(0)
    assert "Requires=docker.service" in lifecycle and "BindsTo" not in lifecycle
    # bash -n of both scripts.
    for script in (text, heredoc(text, "SWARMHUB_BOOT", "/usr/local/sbin/swarmhub-manager-boot")):
        assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0


# --- the state volume is formatted only when confirmed blank ------------------


def test_a_blank_state_volume_is_formatted_once(tmp_path):
    """A new EBS volume: blkid finds no signature (2) and it reads as zeros."""
    result, made = run_boot(
        tmp_path,
        eni_owner=INSTANCE,
        volume_owner=INSTANCE,
        docker_active=False,
        blkid_exit=2,
        disk_bytes=bytes(1 << 20),
    )
    assert result.returncode == 0, result.stderr
    assert [c for c in made if c.startswith("mkfs.ext4 -q -L swarmhub-state")]
    assert "is blank: formatting it" in result.stderr


@pytest.mark.parametrize(
    ("blkid_exit", "disk_bytes"),
    [
        (4, bytes(1 << 20)),  # blkid's own error (usage, I/O)
        (8, bytes(1 << 20)),  # ambivalent probe
        (2, b""),  # "nothing found" for a device that cannot be read
        (2, b"\x00" * 4096 + b"hub.sqlite" + bytes(1 << 20)),  # data blkid does not know
    ],
    ids=["blkid-error", "ambivalent", "unreadable", "unknown-data"],
)
def test_a_state_volume_not_confirmed_blank_is_never_formatted(tmp_path, blkid_exit, disk_bytes):
    """The hub's database and the swarm's raft state are on it: any doubt
    fails the boot (the hub does not start) rather than format."""
    result, made = run_boot(
        tmp_path,
        eni_owner=INSTANCE,
        volume_owner=INSTANCE,
        docker_active=False,
        blkid_exit=blkid_exit,
        disk_bytes=disk_bytes,
    )
    assert result.returncode == 1
    assert not [c for c in made if c.startswith("mkfs")]
    assert not [c for c in made if c.startswith("mount ")]
    assert f"not confirmed blank (blkid exit {blkid_exit})" in result.stderr


# --- the ACME webroot -----------------------------------------------------------


def test_the_certificate_step_makes_the_webroot_before_the_responder_starts(tmp_path):
    """The redirect unit (ProtectSystem=strict, ReadWritePaths= the webroot)
    cannot start without the directory, nor can certbot write its token."""
    result, made = run_boot(
        tmp_path,
        eni_owner=INSTANCE,
        volume_owner=INSTANCE,
        docker_active=False,
        args=("certificate",),
        SWARMHUB_DOMAIN="hub.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "acme").is_dir()


def test_the_boot_script_and_the_image_agree_on_the_webroot():
    """The script's default, the redirect unit's ReadWritePaths= (the recipe's
    attribute) and a directory the recipe bakes: one path."""
    attributes = (REPO / "cookbooks/swarmhub_worker/attributes/default.rb").read_text()
    webroot = re.search(r"\['acme_webroot'\] = '([^']+)'", attributes).group(1)
    script = heredoc(user_data(), "SWARMHUB_BOOT", "/usr/local/sbin/swarmhub-manager-boot")
    assert f'acme_webroot="${{SWARMHUB_ACME_WEBROOT:-{webroot}}}"' in script
    unit = (UNITS / "swarmhub-http-redirect.service.erb").read_text()
    assert "ReadWritePaths=<%= @webroot %>" in unit
    recipe = (REPO / "cookbooks/swarmhub_worker/recipes/manager.rb").read_text()
    assert re.search(r"^directory manager\['acme_webroot'\] do$", recipe, re.M), (
        "the manager recipe does not bake the ACME webroot"
    )
