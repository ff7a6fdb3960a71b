"""Unit tests of autopath.py's parsing and decisions: /usr/bin/python3 -m unittest
(run from this directory, or with -s examples/autopath-python). No lab needed."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import autopath  # noqa: E402

# esxcfg-route -l exactly as the emulated ESXi prints it (esxisim/esxcfg/testdata).
ROUTES_HEALTHY = """VMkernel Routes:
Network          Netmask          Gateway          Interface
192.168.1.0      255.255.255.0    Local Subnet     vmk0
192.168.5.0      255.255.255.0    Local Subnet     vmk1
default          0.0.0.0          192.168.1.1      vmk0
"""

ROUTES_VIA_B = """VMkernel Routes:
Network          Netmask          Gateway          Interface
192.168.1.0      255.255.255.0    Local Subnet     vmk0
192.168.5.0      255.255.255.0    Local Subnet     vmk1
192.168.5.2      255.255.255.255  192.168.1.28     vmk0
default          0.0.0.0          192.168.1.1      vmk0
"""

A, B, C = "192.168.1.27", "192.168.1.28", "192.168.1.29"
ORDER = [A, B, C]


class ParseRoutes(unittest.TestCase):
    def test_rows(self):
        self.assertEqual(autopath.parse_routes(ROUTES_VIA_B), [
            ("192.168.1.0", "255.255.255.0", "Local Subnet", "vmk0"),
            ("192.168.5.0", "255.255.255.0", "Local Subnet", "vmk1"),
            ("192.168.5.2", "255.255.255.255", "192.168.1.28", "vmk0"),
            ("default", "0.0.0.0", "192.168.1.1", "vmk0"),
        ])

    def test_nas_gateway(self):
        self.assertIsNone(autopath.nas_gateway(ROUTES_HEALTHY))
        self.assertEqual(autopath.nas_gateway(ROUTES_VIA_B), B)
        self.assertIsNone(autopath.nas_gateway(""))

    def test_other_host_routes_are_not_the_nas_route(self):
        text = ROUTES_HEALTHY + "192.168.5.2      255.255.255.0    192.168.1.28     vmk0\n" \
                                "192.168.5.20     255.255.255.255  192.168.1.29     vmk0\n"
        self.assertIsNone(autopath.nas_gateway(text))


class Decide(unittest.TestCase):
    def test_table(self):
        all_ok = {A, B, C}
        cases = [
            # (name, local, healthy, current, stable, want)
            ("healthy, no route", A, all_ok, None, True, []),
            ("injected route to a live CVM: graceful", A, all_ok, B, True, [("terminate", B), ("delete", B)]),
            ("injected route to nothing: just delete", A, all_ok, "192.168.1.99", True, [("delete", "192.168.1.99")]),
            ("route to a dead CVM while local is fine", A, {A, C}, B, True, [("delete", B)]),
            ("local recovered but not stable yet: wait", A, all_ok, B, False, []),
            ("local down: next healthy CVM", A, {B, C}, None, False, [("add", B)]),
            ("local down, next is down too: skip it", A, {C}, None, False, [("add", C)]),
            ("order wraps around", C, {A, B}, None, False, [("add", A)]),
            ("local down, route already good: keep", A, {B, C}, C, False, []),
            ("local down, route to dead CVM: re-point", A, {C}, B, False, [("delete", B), ("add", C)]),
            ("local down, route to a non-CVM: re-point", A, {B, C}, "192.168.1.99", False, [("delete", "192.168.1.99"), ("add", B)]),
            ("local down, route to itself: re-point", A, {B, C}, A, False, [("delete", A), ("add", B)]),
            ("nothing healthy: leave the route", A, set(), B, False, []),
            ("nothing healthy, no route", A, set(), None, False, []),
            ("no local CVM: hands off", None, {B}, "192.168.1.99", True, []),
        ]
        for name, local, healthy, current, stable, want in cases:
            with self.subTest(name):
                self.assertEqual(autopath.decide(local, ORDER, healthy, current, stable), want)

    def test_never_routes_to_an_unhealthy_cvm(self):
        import itertools
        for n in range(len(ORDER) + 1):
            for healthy in itertools.combinations(ORDER, n):
                for current in [None, A, B, C, "10.0.0.1"]:
                    for local in ORDER:
                        for stable in (False, True):
                            for action, gw in autopath.decide(local, ORDER, set(healthy), current, stable):
                                if action in ("add", "terminate"):
                                    self.assertIn(gw, healthy, (local, healthy, current, stable))


class Config(unittest.TestCase):
    def test_env_contract(self):
        env = {
            "AUTOPATHLAB_HOSTS": "1", "AUTOPATHLAB_CVMS": "1",
            "AUTOPATHLAB_HOST_1_NAME": "NTNX-BLOCK1-A", "AUTOPATHLAB_HOST_1_SSH": "127.0.0.1:2201",
            "AUTOPATHLAB_HOST_1_IP": "192.168.1.24",
            "AUTOPATHLAB_CVM_1_NAME": "NTNX-BLOCK1-A-CVM", "AUTOPATHLAB_CVM_1_HOST": "NTNX-BLOCK1-A",
            "AUTOPATHLAB_CVM_1_IP": A, "AUTOPATHLAB_CVM_1_SSH": "127.0.0.1:2301",
            "AUTOPATHLAB_CVM_1_STATUS": "http://127.0.0.1:2501/h/status",
            "AUTOPATHLAB_SSH_USER": "root", "AUTOPATHLAB_SSH_PASSWORD": "pw",
            "AUTOPATHLAB_INTERVAL": "0.5", "AUTOPATHLAB_STABLE_PERIOD": "2",
        }
        cfg = autopath.load_config(env)
        self.assertEqual(cfg.hosts, [autopath.Host("NTNX-BLOCK1-A", ("127.0.0.1", 2201), "192.168.1.24")])
        self.assertEqual(cfg.cvms, [autopath.CVM("NTNX-BLOCK1-A-CVM", "NTNX-BLOCK1-A", A, "http://127.0.0.1:2501/h/status")])
        self.assertEqual((cfg.user, cfg.password, cfg.interval, cfg.stable_period), ("root", "pw", 0.5, 2.0))

    def test_endpoints_file_only(self):
        eps = {"lab": "default", "nodes": [
            {"name": "NTNX-BLOCK1-A", "role": "esxi", "ips": ["192.168.1.24", "192.168.5.1"], "listeners": {"ssh": "127.0.0.1:33657"}},
            {"name": "NTNX-BLOCK1-A-CVM", "role": "cvm", "ips": [A, "192.168.5.2"],
             "listeners": {"ssh": "127.0.0.1:1", "nfs": "127.0.0.1:2", "status": "127.0.0.1:46205"}},
            {"name": "gw", "role": "gateway", "ips": ["192.168.1.1"]},
        ]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(eps, f)
        self.addCleanup(os.unlink, f.name)
        cfg = autopath.load_config({"AUTOPATHLAB_ENDPOINTS": f.name})
        self.assertEqual(cfg.hosts, [autopath.Host("NTNX-BLOCK1-A", ("127.0.0.1", 33657), "192.168.1.24")])
        self.assertEqual(cfg.cvms, [autopath.CVM("NTNX-BLOCK1-A-CVM", "NTNX-BLOCK1-A", A, "http://127.0.0.1:46205/h/status")])
        self.assertEqual((cfg.user, cfg.password, cfg.interval, cfg.stable_period), ("root", "nutanix/4u", 1.0, 3.0))


if __name__ == "__main__":
    unittest.main()
