#!/usr/bin/env python3
"""CVM autopathing for ESXi, the way seed 001 describes Nutanix Genesis.

Every INTERVAL seconds: ask every CVM's Stargate whether it is healthy, and
on every ESXi host, over one permanent SSH connection per host, read the
192.168.5.2/32 route and fix it:

  * the host's own CVM is unhealthy: route 192.168.5.2 via the public (eth0)
    address of a healthy CVM, the next one after the local CVM in order;
    an existing route stays while its CVM is healthy;
  * the host's own CVM is healthy and has been for STABLE_PERIOD seconds:
    remove any 192.168.5.2/32 route, after asking the CVM it points at to
    close the host's NFS connections gracefully (NfsTerminateConnection).

Configuration is the autopathlab environment contract (see README.md).
Needs python3-paramiko. One line per action goes to stderr.
"""

import concurrent.futures
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass

try:
    import paramiko
except ImportError:  # the unit tests need no SSH
    paramiko = None

NAS_IP, HOST_MASK = "192.168.5.2", "255.255.255.255"
HTTP_TIMEOUT = 1.0  # a hung Stargate must not stall a round
SSH_TIMEOUT = 5.0
MAX_BACKOFF = 10.0

log = logging.getLogger("autopath")


@dataclass(frozen=True)
class Host:
    name: str
    ssh: tuple  # (address, port)
    ip: str


@dataclass(frozen=True)
class CVM:
    name: str
    host: str  # the name of the ESXi host it runs on
    ip: str  # eth0, the public address routes point at
    status_url: str  # .../h/status


@dataclass(frozen=True)
class Config:
    hosts: list
    cvms: list
    user: str
    password: str
    interval: float
    stable_period: float


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    return host, int(port)


def load_config(env):
    """The lab's environment contract; with only AUTOPATHLAB_ENDPOINTS (a
    plain `lab --endpoints-json F`), hosts and CVMs come from that file."""
    hosts, cvms = [], []
    if "AUTOPATHLAB_HOSTS" in env:
        for n in range(1, int(env["AUTOPATHLAB_HOSTS"]) + 1):
            p = "AUTOPATHLAB_HOST_%d_" % n
            hosts.append(Host(env[p + "NAME"], split_addr(env[p + "SSH"]), env[p + "IP"]))
        for n in range(1, int(env.get("AUTOPATHLAB_CVMS", "0")) + 1):
            p = "AUTOPATHLAB_CVM_%d_" % n
            cvms.append(CVM(env[p + "NAME"], env[p + "HOST"], env[p + "IP"], env[p + "STATUS"]))
    else:
        with open(env["AUTOPATHLAB_ENDPOINTS"]) as f:
            nodes = json.load(f)["nodes"]
        esxi = [n for n in nodes if n["role"] == "esxi"]
        for n in esxi:
            hosts.append(Host(n["name"], split_addr(n["listeners"]["ssh"]), n["ips"][0]))
        for i, n in enumerate(x for x in nodes if x["role"] == "cvm"):
            # "NTNX-BLOCK1-A-CVM" runs on "NTNX-BLOCK1-A"; otherwise pair in order.
            host = n["name"][:-4] if n["name"].endswith("-CVM") else esxi[i]["name"]
            cvms.append(CVM(n["name"], host, n["ips"][0], "http://%s/h/status" % n["listeners"]["status"]))
    return Config(
        hosts=hosts,
        cvms=cvms,
        user=env.get("AUTOPATHLAB_SSH_USER", "root"),
        password=env.get("AUTOPATHLAB_SSH_PASSWORD", "nutanix/4u"),
        interval=float(env.get("AUTOPATHLAB_INTERVAL", "1.0")),
        stable_period=float(env.get("AUTOPATHLAB_STABLE_PERIOD", "3")),
    )


def parse_routes(text):
    """`esxcfg-route -l` as (network, netmask, gateway, interface) rows."""
    rows = []
    for line in text.splitlines():
        if line.startswith("VMkernel Routes:") or line.startswith("Network "):
            continue
        # "Local Subnet" is the one gateway with a space in it.
        f = line.replace("Local Subnet", "Local-Subnet").split()
        if len(f) == 4:
            rows.append((f[0], f[1], f[2].replace("Local-Subnet", "Local Subnet"), f[3]))
    return rows


def nas_gateway(text):
    """The gateway of the 192.168.5.2/32 route, or None."""
    for net, mask, gw, _ in parse_routes(text):
        if net == NAS_IP and mask == HOST_MASK:
            return gw
    return None


def decide(local, order, healthy, current, stable):
    """What to do on one host, as a list of ("terminate"|"delete"|"add", gw).

    local: the host's CVM's eth0 IP (None: no local CVM, leave it alone);
    order: every CVM's eth0 IP in cluster order; healthy: the healthy ones;
    current: the 192.168.5.2/32 route's gateway or None; stable: the local
    CVM has stayed healthy for the stable period.
    """
    if local is None:
        return []
    if local in healthy:
        if current is None or not stable:
            return []
        if current in healthy:  # a live CVM serves the host: let it go gracefully
            return [("terminate", current), ("delete", current)]
        return [("delete", current)]
    if current in healthy:
        return []  # keep a working choice rather than move the traffic again
    i = order.index(local) if local in order else -1
    candidates = [order[(i + k) % len(order)] for k in range(1, len(order) + 1)]
    target = next((ip for ip in candidates if ip in healthy and ip != local), None)
    if target is None:
        return []  # nothing healthy to route to: a route would not help
    actions = [("delete", current)] if current is not None else []
    return actions + [("add", target)]


def stargate_healthy(url):
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
            return r.status == 200 and json.load(r).get("initialised") is True
    except Exception:  # refused, 503, hung, not JSON: all unhealthy
        return False


def terminate_connections(status_url, client_ip):
    """NfsTerminateConnection: the CVM closes the host's NFS connections."""
    base = status_url[: -len("/h/status")] if status_url.endswith("/h/status") else status_url.rstrip("/")
    req = urllib.request.Request(
        base + "/h/rpc/nfs_terminate_connection",
        data=json.dumps({"client_ip": client_ip}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
        return json.load(r).get("terminated")


class Health:
    """The latest health round, shared with the host workers."""

    def __init__(self, cvms, stable_period):
        self.cvms, self.stable_period = cvms, stable_period
        self.cond = threading.Condition()
        self.round = 0
        self.healthy = set()
        self.since = {}  # ip -> when its current healthy streak began
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(len(cvms), 1))

    def check(self):
        results = list(self.pool.map(lambda c: stargate_healthy(c.status_url), self.cvms))
        now = time.monotonic()
        with self.cond:
            for c, ok in zip(self.cvms, results):
                if ok != (c.ip in self.healthy) or self.round == 0:
                    log.info("CVM %s (%s): Stargate %s", c.name, c.ip, "healthy" if ok else "unhealthy")
                if ok:
                    self.since.setdefault(c.ip, now)
                    self.healthy.add(c.ip)
                else:
                    self.since.pop(c.ip, None)
                    self.healthy.discard(c.ip)
            self.round += 1
            self.cond.notify_all()

    def wait(self, after, stop):
        """Block until a round newer than `after`; return (round, healthy, stable ips)."""
        with self.cond:
            while self.round <= after and not stop.is_set():
                self.cond.wait(0.2)
            now = time.monotonic()
            stable = {ip for ip, t in self.since.items() if now - t >= self.stable_period}
            return self.round, set(self.healthy), stable


class HostWorker(threading.Thread):
    """One host: a permanent SSH connection and the route fixing. Each host
    has its own thread, so a slow or refused SSH holds up no other host."""

    def __init__(self, host, cfg, health, stop):
        super().__init__(name=host.name, daemon=True)
        self.host, self.cfg, self.health, self.stop = host, cfg, health, stop
        local = [c for c in cfg.cvms if c.host == host.name]
        self.local = local[0].ip if local else None
        self.order = [c.ip for c in cfg.cvms]
        self.by_ip = {c.ip: c for c in cfg.cvms}
        self.client, self.backoff, self.next_try = None, 0.5, 0.0

    def run(self):
        seen = 0
        while not self.stop.is_set():
            seen, healthy, stable = self.health.wait(seen, self.stop)
            if self.stop.is_set():
                break
            try:
                self.fix(healthy, stable)
            except Exception as e:  # SSH dropped or timed out: reconnect later
                log.warning("host %s: %s: %s; reconnecting", self.host.name, type(e).__name__, e)
                self.disconnect()
        self.disconnect()

    def fix(self, healthy, stable):
        if not self.connected():
            return
        out, code = self.run_cmd("esxcfg-route -l")
        if code != 0:
            log.warning("host %s: esxcfg-route -l exited %d", self.host.name, code)
            return
        current = nas_gateway(out)
        for action, gw in decide(self.local, self.order, healthy, current, self.local in stable):
            if action == "terminate":
                cvm = self.by_ip[gw]
                try:
                    n = terminate_connections(cvm.status_url, self.host.ip)
                    log.info("host %s: NfsTerminateConnection on CVM %s closed %s connection(s)", self.host.name, cvm.name, n)
                except Exception as e:  # the route goes anyway; NFS reconnects
                    log.warning("host %s: NfsTerminateConnection on CVM %s failed: %s", self.host.name, cvm.name, e)
                continue
            flag = "-a" if action == "add" else "-d"
            cmd = "esxcfg-route %s %s %s %s" % (flag, NAS_IP, HOST_MASK, gw)
            why = self.reason(action, gw, healthy)
            _, code = self.run_cmd(cmd)
            log.info("host %s: %s (%s): exit %d", self.host.name, cmd, why, code)
            if code != 0:
                return  # re-read the routes next round

    def reason(self, action, gw, healthy):
        local = self.by_ip.get(self.local)
        name = local.name if local else "?"
        if action == "add":
            return "local CVM %s unhealthy; %s is healthy" % (name, self.by_ip[gw].name)
        if self.local in healthy:
            return "local CVM %s healthy and stable" % name
        return "gateway %s is %s" % (gw, "an unhealthy CVM" if gw in self.by_ip else "not a CVM")

    def connected(self):
        if self.client is not None:
            return True
        if time.monotonic() < self.next_try:
            return False
        c = paramiko.SSHClient()
        # The lab's host keys are throwaway; a real deployment pins them.
        c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        addr, port = self.host.ssh
        try:
            c.connect(addr, port=port, username=self.cfg.user, password=self.cfg.password,
                      look_for_keys=False, allow_agent=False, timeout=SSH_TIMEOUT,
                      banner_timeout=SSH_TIMEOUT, auth_timeout=SSH_TIMEOUT)
            c.get_transport().set_keepalive(5)
        except Exception as e:
            c.close()
            self.next_try = time.monotonic() + self.backoff
            log.warning("host %s: SSH to %s:%d failed (%s: %s); retrying in %.1fs",
                        self.host.name, addr, port, type(e).__name__, e, self.backoff)
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
            return False
        log.info("host %s: SSH connected to %s:%d as %s", self.host.name, addr, port, self.cfg.user)
        self.client, self.backoff = c, 0.5
        return True

    def run_cmd(self, cmd):
        _, stdout, _ = self.client.exec_command(cmd, timeout=SSH_TIMEOUT)
        out = stdout.read().decode(errors="replace")
        return out, stdout.channel.recv_exit_status()

    def disconnect(self):
        if self.client is not None:
            self.client.close()
            self.client = None


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s autopath %(levelname)s %(message)s")
    if paramiko is None:
        log.error("paramiko is missing: apt-get install python3-paramiko")
        return 1
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # we log failures ourselves
    cfg = load_config(os.environ)
    log.info("watching %d host(s) and %d CVM(s), every %.2fs, stable period %.1fs",
             len(cfg.hosts), len(cfg.cvms), cfg.interval, cfg.stable_period)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    health = Health(cfg.cvms, cfg.stable_period)
    workers = [HostWorker(h, cfg, health, stop) for h in cfg.hosts]
    for w in workers:
        w.start()
    while not stop.is_set():
        started = time.monotonic()
        health.check()
        stop.wait(max(0.0, cfg.interval - (time.monotonic() - started)))
    log.info("stopping")
    deadline = time.monotonic() + 2  # a worker stuck in connect is a daemon: abandon it
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    health.pool.shutdown(wait=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
