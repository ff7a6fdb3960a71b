package cvmsim

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transcript runs lines on c and renders them as a terminal would show
// them, with the exit status of each, for golden files.
func transcript(t *testing.T, l *lab, c *CVM, clocked bool, lines ...string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range lines {
		var out, errs string
		var code int
		if clocked {
			out, errs, code = runClock(t, l, c, line)
		} else {
			out, errs, code = run(t, c, line)
		}
		fmt.Fprintf(&b, "%s%s\n%s", c.Prompt(DefaultUser, HomeDir), line, out)
		if errs != "" {
			fmt.Fprintf(&b, "[stderr]\n%s", errs)
		}
		fmt.Fprintf(&b, "[exit %d]\n", code)
	}
	return b.String()
}

// Seed 001's cluster: healthy, then CVM A powered off and CVM C booting.
func TestClusterStatusGolden(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	golden(t, "cluster-status-healthy", transcript(t, l, b, false, "cluster status", "genesis status"))

	ev := events(t, l.cvms[2])
	l.cvms[0].PowerOff()
	l.cvms[2].Reboot()
	l.clk.Advance(45 * time.Second)
	waitEvent(t, ev, EventNetworkUp)
	golden(t, "cluster-status-failure", transcript(t, l, b, false, "cluster status", "cluster status 2>/dev/null | grep -c DOWN"))

	// Stargate stopped on B from its own shell.
	l.clk.Advance(time.Hour)
	waitEvent(t, ev, EventBooted)
	golden(t, "genesis-stop-stargate", transcript(t, l, b, false, "genesis stop stargate", "genesis status | grep stargate",
		"cluster status 2>/dev/null | grep -B1 -A1 Stargate", "cluster start 2>&1 >/dev/null", "genesis status | grep stargate",
		"genesis", "genesis frobnicate", "cluster", "cluster --help"))
}

func TestNetworkCommandsGolden(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	// Host A's autopath route to CVM B: B serves A's NFS over eth0.
	l.cvms[0].PowerOff()
	require.NoError(t, l.rts[0].Add(netip.MustParsePrefix("192.168.5.2/32"), netip.MustParseAddr("192.168.1.28")))
	c, err := dial(l.hosts[0], "192.168.5.2:2049")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, nfsNull(c, 5*time.Second))
	// And host B's own, over vmk1.
	c2, err := dial(l.hosts[1], "192.168.5.2:2049")
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, nfsNull(c2, 5*time.Second))
	// A status page check from CVM C.
	sc, err := dial(l.cvms[2].Node(), "192.168.1.28:2009")
	require.NoError(t, err)
	defer sc.Close()
	_, err = sc.Write([]byte("GET /h/status HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	buf := make([]byte, 4096)
	_, err = sc.Read(buf)
	require.NoError(t, err)

	l.clk.Advance(3*time.Hour + 17*time.Minute)
	golden(t, "ifconfig", transcript(t, l, b, false, "ifconfig -a", "ifconfig eth1:1", "ifconfig eth7", "ifconfig eth0 10.0.0.1", "ifconfig --bogus"))
	golden(t, "routes", transcript(t, l, b, false, "netstat -r", "netstat -rn", "route -n", "route", "route add default gw 10.0.0.1", "route -x"))
	golden(t, "netstat", transcript(t, l, b, false, "netstat -a", "netstat -an", "netstat -at", "netstat -tn", "netstat -ltnp",
		"netstat -a | grep 192.168.5.2", "netstat -z"))
	golden(t, "identity", transcript(t, l, b, false, "hostname", "uname -a", "uname -r", "pwd", "cd data/logs; pwd", "cat /etc/centos-release", "echo $USER $HOME $SHELL"))
}

func TestPingGolden(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	l.cvms[0].PowerOff()
	golden(t, "ping", transcript(t, l, b, true,
		"ping -c 3 192.168.5.1", "ping -c 2 192.168.1.1", "ping -c 1 -I eth0 192.168.1.24",
		"ping -c 2 192.168.1.27", "ping -c 2 -W 2 10.9.9.9", "ping -c 1 -s 1000 -q 192.168.1.29",
		"ping -w 3 192.168.1.29", "ping", "ping -c 0 192.168.1.1", "ping nosuchhost", "ping -I eth9 192.168.1.1"))
}

// genesis.out is written by Genesis through GenesisLog and read with
// tail, tail -f following it on the CVM's clock.
func TestGenesisOutTail(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	w := b.GenesisLog()
	for i := range 12 {
		fmt.Fprintf(w, "2024-03-14 09:26:%02d,000Z INFO ha_service.py:%d Checking that all Stargates are up\n", i, 300+i)
	}
	golden(t, "genesis-out", transcript(t, l, b, false, "tail -n 3 data/logs/genesis.out", "ls data/logs", "tail -n 1 ~/data/logs/genesis.out"))

	// tail -f prints what Genesis appends while it follows.
	sh := b.NewShell()
	out := &syncBuffer{}
	done := make(chan int)
	ctx, cancel := ctxCancel()
	go func() { done <- sh.Run(ctx, "tail -n 1 -f data/logs/genesis.out", nil, out, out) }()
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	fmt.Fprintln(w, "2024-03-14 09:27:00,000Z INFO hypervisor_ha.py:123 Adding route to 192.168.5.2 via 192.168.1.28 on hypervisor 192.168.1.24")
	l.clk.Advance(time.Second)
	want := "Checking that all Stargates are up\n2024-03-14 09:27:00,000Z INFO hypervisor_ha.py:123 Adding route"
	for !strings.Contains(out.String(), want) {
		require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
		l.clk.Advance(time.Second)
	}
	cancel()
	assert.Equal(t, 130, <-done)
}

// The prompt shows ~ for the home directory.
func TestPrompt(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	assert.Equal(t, "nutanix@NTNX-BLOCK1-B-CVM:192.168.1.28:~$ ", b.Prompt("nutanix", "/home/nutanix"))
	assert.Equal(t, "nutanix@NTNX-BLOCK1-B-CVM:192.168.1.28:~/data/logs$ ", b.Prompt("nutanix", "/home/nutanix/data/logs"))
	assert.Equal(t, "nutanix@NTNX-BLOCK1-B-CVM:192.168.1.28:/etc$ ", b.Prompt("nutanix", "/etc"))
	assert.Equal(t, "/home/nutanix", b.NewShell().Dir())
}
