"""The box's controller: moto's server, the metadata service, and a machine per instance.

Runs inside the box's network namespace (`python -m box serve`, started by
`python -m box up`). Every second it asks moto for its instances; each one moto
says is running gets a machine booted with its private address and its
user-data, and each machine whose instance moto has terminated (or forgotten)
is powered off. EC2's limits that moto does not enforce are enforced here: an
instance whose raw user-data exceeds 16,384 bytes is not booted, and is
tagged `swarmhub-box:refused` with the reason, where a test can see it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3

from box import imds, machine, network, tls
from box.image import BoxError

MOTO_PORT = 5000
REGION = "us-east-1"
USER_DATA_LIMIT = 16384
REFUSED_TAG = "swarmhub-box:refused"
STATUS = machine.STATE / "status.json"
POLL_SECONDS = 1.0
BOOT_TIMEOUT = 300


def ec2_client(endpoint: str, service: str = "ec2"):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="box",
        aws_secret_access_key="box",  # noqa: S106 - moto takes any key
    )


def refusal(user_data: bytes) -> str:
    """Why EC2 would refuse this user-data, or "" (pure)."""
    if len(user_data) > USER_DATA_LIMIT:
        return f"user-data is {len(user_data)} bytes raw, EC2 takes at most {USER_DATA_LIMIT}"
    return ""


def _rss_mb(pid: int) -> float:
    """Resident memory of a machine: every process in its PID namespace."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns/pid") != ns:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


class Controller:
    """Keeps one machine per running instance until told to stop."""

    def __init__(self, tree: Path, endpoint: str, imds_service: imds.Service):
        self.tree = tree
        self.ec2 = ec2_client(endpoint)
        self.iam = ec2_client(endpoint, "iam")
        self.imds = imds_service
        self.machines: dict[str, machine.Machine] = {}
        self.status: dict[str, dict] = {}
        self.stopping = threading.Event()

    def _user_data(self, instance_id: str) -> bytes:
        attr = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        value = attr.get("UserData", {}).get("Value", "")
        return base64.b64decode(value) if value else b""

    def _cidr(self, subnet_id: str) -> str:
        subnet = self.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
        return subnet["CidrBlock"]

    def _launch_settings(self, inst: dict) -> tuple[dict, str]:
        """Metadata options and instance profile name, from the launch template
        when the instance came from one (moto does not copy them to an ASG's
        instances)."""
        options = inst.get("MetadataOptions", {})
        profile = inst.get("IamInstanceProfile", {}).get("Arn", "").rsplit("/", 1)[-1]
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        template = tags.get("aws:ec2launchtemplate:id")
        if template:
            versions = self.ec2.describe_launch_template_versions(
                LaunchTemplateId=template,
                Versions=[tags.get("aws:ec2launchtemplate:version", "$Latest")],
            )["LaunchTemplateVersions"]
            data = versions[0]["LaunchTemplateData"] if versions else {}
            options = data.get("MetadataOptions", options)
            named = data.get("IamInstanceProfile", {})
            profile = named.get("Name") or named.get("Arn", "").rsplit("/", 1)[-1] or profile
        return options, profile

    def _role(self, profile: str) -> str:
        """The role IMDS names for an instance profile (the profile's name if moto has none)."""
        if not profile:
            return ""
        try:
            roles = self.iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"][
                "Roles"
            ]
        except Exception:  # noqa: BLE001 - a profile moto does not know: name it as given
            return profile
        return roles[0]["RoleName"] if roles else profile

    def _write_status(self) -> None:
        STATUS.parent.mkdir(parents=True, exist_ok=True)
        tmp = STATUS.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status, indent=2, sort_keys=True))
        tmp.replace(STATUS)

    def _boot(self, inst: dict) -> None:
        instance_id = inst["InstanceId"]
        started = time.monotonic()
        entry = self.status.setdefault(instance_id, {})
        user_data = self._user_data(instance_id)
        reason = refusal(user_data)
        if reason:
            entry.update(state="refused", reason=reason)
            self.ec2.create_tags(
                Resources=[instance_id], Tags=[{"Key": REFUSED_TAG, "Value": reason}]
            )
            print(f"box: {instance_id} refused: {reason}", flush=True)
            return
        cidr = self._cidr(inst["SubnetId"])
        ip = inst["PrivateIpAddress"]
        options, profile = self._launch_settings(inst)
        self.imds.put(
            imds.Instance(
                instance_id=instance_id,
                private_ip=ip,
                user_data=user_data,
                role=self._role(profile),
                hop_limit=int(options.get("HttpPutResponseHopLimit", 1) or 1),
                instance_type=inst.get("InstanceType", "t3.medium"),
                availability_zone=inst.get("Placement", {}).get("AvailabilityZone", REGION + "a"),
                ami_id=inst.get("ImageId", "ami-box"),
            )
        )
        m = machine.prepare(self.tree, instance_id, ip, cidr)
        network.add_subnet(f"{m.gateway}/{m.prefix}")
        machine.boot(m, network.NETNS, network.BRIDGE)
        self.machines[instance_id] = m
        entry.update(state="booting", private_ip=ip, pid=m.pid, dir=str(m.dir))
        self._write_status()
        threading.Thread(target=self._watch_boot, args=(m, started), daemon=True).start()

    def _watch_boot(self, m: machine.Machine, started: float) -> None:
        entry = self.status[m.instance_id]
        try:
            state = machine.wait_state(m, time.monotonic() + BOOT_TIMEOUT)
        except BoxError as err:
            entry.update(state="boot-failed", reason=str(err))
        else:
            entry.update(
                state="running",
                systemd=state,
                boot_seconds=round(time.monotonic() - started, 1),
                rss_mb=_rss_mb(machine.leader(m)),
            )
        self._write_status()

    def _stop(self, instance_id: str) -> None:
        m = self.machines.pop(instance_id)
        started = time.monotonic()
        machine.remove(m)
        self.imds.drop(m.private_ip)
        self.status[instance_id].update(
            state="stopped", stop_seconds=round(time.monotonic() - started, 1)
        )
        self._write_status()

    def step(self) -> None:
        """One look at moto: boot what runs, stop what does not."""
        running = {}
        for reservation in self.ec2.describe_instances()["Reservations"]:
            for inst in reservation["Instances"]:
                if inst["State"]["Name"] in ("pending", "running"):
                    running[inst["InstanceId"]] = inst
        for instance_id, inst in running.items():
            if instance_id not in self.machines and instance_id not in self.status:
                try:
                    self._boot(inst)
                except (BoxError, OSError) as err:
                    self.status[instance_id] = {"state": "boot-failed", "reason": str(err)}
                    print(f"box: {instance_id}: {err}", flush=True)
                self._write_status()
        for instance_id in list(self.machines):
            if instance_id not in running:
                self._stop(instance_id)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception as err:  # noqa: BLE001 - keep serving; moto may be restarting
                print(f"box: step failed: {err}", flush=True)
            self.stopping.wait(POLL_SECONDS)
        for instance_id in list(self.machines):
            self._stop(instance_id)


def wait_for_moto(endpoint: str, deadline: float) -> None:
    import urllib.request

    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).read()  # noqa: S310
            return
        except OSError:
            time.sleep(0.3)
    raise BoxError(f"moto's server did not answer at {endpoint}")


def serve(tree: Path) -> None:
    """The controller's process (inside the namespace): moto, IMDS, the loop."""
    moto = subprocess.Popen(
        # All of the namespace's addresses: the machines' gateway and the host link.
        ["moto_server", "-H", "0.0.0.0", "-p", str(MOTO_PORT)],  # noqa: S104
        stdout=open(machine.STATE / "moto.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    service = imds.Service()
    service.start()
    endpoint = f"http://127.0.0.1:{MOTO_PORT}"
    controller = Controller(tree, endpoint, service)
    # AWS's https names, as the machines resolve them (tls.py), reach moto.
    tls.forward(network.NS_ADDRESS, ("127.0.0.1", MOTO_PORT), controller.stopping)

    def on_term(*_):
        controller.stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        wait_for_moto(endpoint, time.monotonic() + 60)
        print("box: serving", flush=True)
        controller.run()
    finally:
        service.stop()
        moto.terminate()
        try:
            moto.wait(timeout=20)
        except subprocess.TimeoutExpired:
            moto.kill()
        print("box: stopped", flush=True)
        sys.stdout.flush()
