package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/cvmsim/genesis"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/conform"
)

// envOf turns KEY=value pairs into a lookup.
func envOf(kv ...string) getenv {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// composeEnv is what the docker-compose lab hands the autopath
// container: container names, the status pages on port 2009.
var composeEnv = []string{
	"AUTOPATHLAB_HOSTS=2", "AUTOPATHLAB_CVMS=2",
	"AUTOPATHLAB_HOST_1_NAME=NTNX-BLOCK1-A", "AUTOPATHLAB_HOST_1_SSH=esxi-a:22", "AUTOPATHLAB_HOST_1_IP=192.168.1.24",
	"AUTOPATHLAB_HOST_2_NAME=NTNX-BLOCK1-B", "AUTOPATHLAB_HOST_2_SSH=esxi-b", "AUTOPATHLAB_HOST_2_IP=192.168.1.25",
	"AUTOPATHLAB_CVM_1_NAME=NTNX-BLOCK1-A-CVM", "AUTOPATHLAB_CVM_1_HOST=NTNX-BLOCK1-A", "AUTOPATHLAB_CVM_1_IP=192.168.1.27",
	"AUTOPATHLAB_CVM_1_STATUS=http://cvm-a:2009/h/status",
	"AUTOPATHLAB_CVM_2_NAME=NTNX-BLOCK1-B-CVM", "AUTOPATHLAB_CVM_2_HOST=NTNX-BLOCK1-B", "AUTOPATHLAB_CVM_2_IP=192.168.1.28",
	"AUTOPATHLAB_CVM_2_STATUS=http://cvm-b:2009/h/status",
	"AUTOPATHLAB_SSH_USER=root", "AUTOPATHLAB_SSH_PASSWORD=secret",
}

// Addresses are used as given: container names, never 127.0.0.1.
func TestEnvWithContainerNames(t *testing.T) {
	t.Parallel()
	c, err := loadCluster(envOf(composeEnv...), "")
	require.NoError(t, err)
	assert.Equal(t, "the environment", c.Source)
	assert.Equal(t, []genesis.Host{
		{Name: "NTNX-BLOCK1-A", PublicIP: netip.MustParseAddr("192.168.1.24"), SSHAddr: "esxi-a:22", User: "root", Password: "secret"},
		{Name: "NTNX-BLOCK1-B", PublicIP: netip.MustParseAddr("192.168.1.25"), SSHAddr: "esxi-b:22", User: "root", Password: "secret"},
	}, c.Hosts)
	assert.Equal(t, []cvmSpec{
		{Name: "NTNX-BLOCK1-A-CVM", Host: "NTNX-BLOCK1-A", IP: netip.MustParseAddr("192.168.1.27"), StatusURL: "http://cvm-a:2009/h/status"},
		{Name: "NTNX-BLOCK1-B-CVM", Host: "NTNX-BLOCK1-B", IP: netip.MustParseAddr("192.168.1.28"), StatusURL: "http://cvm-b:2009/h/status"},
	}, c.CVMs)
}

// An endpoints file of container names whose CVMs are not called
// <host>-CVM: they pair with the hosts in order.
func TestEndpointsWithContainerNames(t *testing.T) {
	t.Parallel()
	c, err := loadCluster(envOf("AUTOPATHLAB_ENDPOINTS=testdata/compose-endpoints.json"), "")
	require.NoError(t, err)
	assert.Equal(t, "testdata/compose-endpoints.json", c.Source)
	assert.Equal(t, []genesis.Host{
		{Name: "esxi-a", PublicIP: netip.MustParseAddr("192.168.1.24"), SSHAddr: "esxi-a:22", User: "root", Password: "nutanix/4u"},
		{Name: "esxi-b", PublicIP: netip.MustParseAddr("192.168.1.25"), SSHAddr: "esxi-b:22", User: "root", Password: "nutanix/4u"},
	}, c.Hosts)
	assert.Equal(t, []cvmSpec{
		{Name: "cvm-a", Host: "esxi-a", IP: netip.MustParseAddr("192.168.1.27"), StatusURL: "cvm-a:2009"},
		{Name: "cvm-b", Host: "esxi-b", IP: netip.MustParseAddr("192.168.1.28"), StatusURL: "cvm-b:2009"},
	}, c.CVMs)
}

// The environment lab conform builds and the endpoints file the lab
// writes describe the same cluster; --endpoints beats the environment.
func TestEnvAndEndpointsOfALabAgree(t *testing.T) {
	t.Parallel()
	lab := harness.Start(t, harness.Default(), harness.WithoutWorkload(), harness.WithFakeClock())
	ep := filepath.Join(t.TempDir(), "lab.json")
	f, err := os.Create(ep)
	require.NoError(t, err)
	require.NoError(t, lab.WriteEndpointsJSON(f))
	require.NoError(t, f.Close())

	fromEnv, err := loadCluster(envOf(conform.Env(lab, ep, 0.05)...), "")
	require.NoError(t, err)
	fromFile, err := loadCluster(envOf("AUTOPATHLAB_ENDPOINTS="+ep), "")
	require.NoError(t, err)
	byFlag, err := loadCluster(envOf(conform.Env(lab, "/nonexistent", 0.05)...), ep)
	require.NoError(t, err)
	assert.Equal(t, ep, byFlag.Source, "--endpoints beats the environment")

	assert.Equal(t, fromEnv.Hosts, fromFile.Hosts)
	require.Len(t, fromEnv.Hosts, 3)
	assert.Equal(t, genesis.Host{Name: "NTNX-BLOCK1-A", PublicIP: netip.MustParseAddr("192.168.1.24"), SSHAddr: lab.Hosts[0].Addr().String(),
		User: "root", Password: "nutanix/4u"}, fromEnv.Hosts[0])
	require.Len(t, fromFile.CVMs, 3)
	for i, want := range fromEnv.CVMs {
		got := fromFile.CVMs[i]
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.Host, got.Host)
		assert.Equal(t, want.IP, got.IP)
		// The file has the listener, the environment the page's URL:
		// one page.
		a, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Name: want.Name, PublicIP: want.IP, StatusURL: want.StatusURL})
		require.NoError(t, err)
		b, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Name: got.Name, PublicIP: got.IP, StatusURL: got.StatusURL})
		require.NoError(t, err)
		assert.Equal(t, a.StatusURL(), b.StatusURL())
	}
	assert.Equal(t, "NTNX-BLOCK1-B-CVM", fromEnv.CVMs[1].Name)
	assert.Equal(t, "NTNX-BLOCK1-B", fromEnv.CVMs[1].Host)
	assert.Equal(t, netip.MustParseAddr("192.168.1.28"), fromEnv.CVMs[1].IP)
}

// Periods: a flag, else the kit's hint in seconds, else seed 001's; the
// probe timeout never exceeds the interval.
func TestSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                    string
		args                    []string
		env                     []string
		interval, stable, probe time.Duration
		notes                   int
	}{
		{name: "seed 001", interval: 30 * time.Second, stable: 30 * time.Second, probe: 5 * time.Second},
		{name: "kit at scale 0.05", env: []string{"AUTOPATHLAB_LOOP_PERIOD=1.5", "AUTOPATHLAB_STABLE_PERIOD=1.5"},
			interval: 1500 * time.Millisecond, stable: 1500 * time.Millisecond, probe: 1500 * time.Millisecond},
		{name: "flags beat the environment", args: []string{"--interval", "2s", "--stable-period=3", "--probe-timeout", "500ms"},
			env:      []string{"AUTOPATHLAB_LOOP_PERIOD=garbage", "AUTOPATHLAB_STABLE_PERIOD=1.5"},
			interval: 2 * time.Second, stable: 3 * time.Second, probe: 500 * time.Millisecond},
		{name: "probe clamped", args: []string{"--interval", "1s", "--probe-timeout", "5s"},
			interval: time.Second, stable: 30 * time.Second, probe: time.Second, notes: 1},
		{name: "environment as a duration", env: []string{"AUTOPATHLAB_LOOP_PERIOD=10s"},
			interval: 10 * time.Second, stable: 30 * time.Second, probe: 5 * time.Second},
	} {
		s, err := parseFlags(tc.args, envOf(tc.env...), &bytes.Buffer{})
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.interval, s.interval, tc.name)
		assert.Equal(t, tc.stable, s.stable, tc.name)
		assert.Equal(t, tc.probe, s.probe, tc.name)
		assert.Len(t, s.notes, tc.notes, tc.name)
	}
}

// Usage and configuration errors exit 2 with a message that says what to
// fix, before anything connects.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	without := func(drop string, extra ...string) []string {
		var out []string
		for _, kv := range composeEnv {
			if !strings.HasPrefix(kv, drop+"=") {
				out = append(out, kv)
			}
		}
		return append(out, extra...)
	}
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("nodes:\n"), 0o644))
	unpaired := filepath.Join(dir, "unpaired.json")
	require.NoError(t, os.WriteFile(unpaired, []byte(`{"nodes": [
		{"name": "esxi-a", "role": "esxi", "ips": ["192.168.1.24"], "listeners": {"ssh": "esxi-a:22"}},
		{"name": "cvm-a", "role": "cvm", "ips": ["192.168.1.27"], "listeners": {"status": "cvm-a:2009"}},
		{"name": "cvm-b", "role": "cvm", "ips": ["not-an-ip"], "listeners": {}}]}`), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{name: "no lab", want: []string{"genesis: no lab to watch: set AUTOPATHLAB_HOSTS", "--endpoints FILE"}},
		{name: "bad count", env: without("AUTOPATHLAB_HOSTS", "AUTOPATHLAB_HOSTS=two"),
			want: []string{`AUTOPATHLAB_HOSTS="two": want a count of at least 1`}},
		{name: "missing variables", env: without("AUTOPATHLAB_HOST_2_SSH", "AUTOPATHLAB_CVM_1_IP=192.168.1.270"),
			want: []string{"genesis: the environment does not describe the lab:\n", "  AUTOPATHLAB_HOST_2_SSH is not set\n",
				`  AUTOPATHLAB_CVM_1_IP="192.168.1.270": want an IP address`}},
		{name: "unknown host", env: without("AUTOPATHLAB_CVM_2_HOST", "AUTOPATHLAB_CVM_2_HOST=NTNX-BLOCK1-X"),
			want: []string{`AUTOPATHLAB_CVM_2_HOST="NTNX-BLOCK1-X": no such host (hosts: NTNX-BLOCK1-A, NTNX-BLOCK1-B)`}},
		{name: "bad status URL", env: without("AUTOPATHLAB_CVM_2_STATUS", "AUTOPATHLAB_CVM_2_STATUS=http://cvm-b:2009/status"),
			want: []string{`genesis: cvm NTNX-BLOCK1-B-CVM: status URL "http://cvm-b:2009/status": the path should end in /h/status`}},
		{name: "twice the same CVM", env: without("AUTOPATHLAB_CVM_2_IP", "AUTOPATHLAB_CVM_2_IP=192.168.1.27"),
			want: []string{"genesis: CVM NTNX-BLOCK1-B-CVM (192.168.1.27) given twice"}},
		{name: "bad ssh", env: without("AUTOPATHLAB_HOST_1_SSH", "AUTOPATHLAB_HOST_1_SSH=ssh://esxi-a"),
			want: []string{`AUTOPATHLAB_HOST_1_SSH="ssh://esxi-a": want HOST:PORT`}},
		{name: "no endpoints file", args: []string{"--endpoints", filepath.Join(dir, "missing.json")},
			want: []string{"genesis: --endpoints: open ", "no such file or directory"}},
		{name: "not an endpoints file", env: []string{"AUTOPATHLAB_ENDPOINTS=" + notJSON},
			want: []string{"genesis: AUTOPATHLAB_ENDPOINTS " + notJSON + ": not an endpoints file"}},
		{name: "unpaired CVMs", args: []string{"--endpoints", unpaired},
			want: []string{"does not describe the lab:\n", `CVM "cvm-a": cannot tell which host it serves (not named <host>-CVM, and 2 CVMs for 1 hosts)`,
				`node "cvm-b": ips[0]="not-an-ip": want an IP address`, `CVM "cvm-b" has no status listener`}},
		{name: "bad period", env: append([]string{"AUTOPATHLAB_LOOP_PERIOD=soon"}, composeEnv...),
			want: []string{`genesis: AUTOPATHLAB_LOOP_PERIOD="soon": want seconds, such as 1.5`}},
		{name: "zero period", env: append([]string{"AUTOPATHLAB_STABLE_PERIOD=0"}, composeEnv...),
			want: []string{`genesis: AUTOPATHLAB_STABLE_PERIOD="0": want a positive number of seconds`}},
		{name: "bad flag value", args: []string{"--interval", "0"}, env: composeEnv,
			want: []string{`invalid value "0" for flag -interval: want a positive duration`, "usage: genesis [flags]"}},
		{name: "unknown flag", args: []string{"--genesis-log", "x"}, env: composeEnv,
			want: []string{"flag provided but not defined: -genesis-log", "usage: genesis [flags]"}},
		{name: "argument", args: []string{"start"}, env: composeEnv,
			want: []string{`genesis: unexpected argument "start" (genesis takes flags only)`}},
		{name: "log not writable", args: []string{"--log", filepath.Join(dir, "no", "such", "dir", "genesis.out")}, env: composeEnv,
			want: []string{"genesis: --log: open "}},
	} {
		var stderr bytes.Buffer
		// A context that is already done: were the configuration
		// accepted, run would return 0 after one round at most.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		code := run(ctx, tc.args, envOf(tc.env...), &stderr)
		assert.Equal(t, 2, code, "%s: %s", tc.name, stderr.String())
		for _, w := range tc.want {
			assert.Contains(t, stderr.String(), w, tc.name)
		}
		assert.NotContains(t, stderr.String(), "watching", tc.name)
	}
}

// -h prints the usage and is no error.
func TestHelp(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, envOf(), &stderr))
	for _, f := range []string{"-interval", "-stable-period", "-probe-timeout", "-log", "-endpoints", "AUTOPATHLAB_LOOP_PERIOD"} {
		assert.Contains(t, stderr.String(), f)
	}
}
