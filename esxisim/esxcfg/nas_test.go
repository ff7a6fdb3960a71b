package esxcfg

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/shell"
)

// nasBench is host A with Stargates on CVMs A and B exporting ctr1, and an
// NFS client whose heartbeats give up fast (one 5 s timeout), so a test
// reaches APD in two clock steps.
func nasBench(t *testing.T) (*bench, *datastore.Manager) {
	t.Helper()
	b := hostA(t)
	store := nfs.NewMemStore()
	require.NoError(t, store.CreateContainer("ctr1"))
	for _, name := range []string{"cvm-a", "cvm-b"} {
		srv := nfs.NewServer(store, nfs.Config{Name: name, Exports: []nfs.Export{{Path: "/ctr1",
			Whitelist: []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")}}}})
		t.Cleanup(func() { srv.Close() })
		for _, port := range []uint16{111, 2049} {
			ln, err := b.lab.Peers[name].Listen(port)
			require.NoError(t, err)
			go srv.Serve(ln)
		}
	}
	m, err := datastore.New(b.lab.Host, datastore.Config{
		HeartbeatFrequency: 10 * time.Second, HeartbeatTimeout: 5 * time.Second, HeartbeatMaxFailures: 1,
	})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return b, m
}

// enterAPD powers CVM A off and drives the heartbeats until the datastore
// is inaccessible.
func enterAPD(t *testing.T, b *bench, m *datastore.Manager) {
	t.Helper()
	apd := make(chan struct{}, 1)
	cancel := m.Subscribe(func(e datastore.Event) {
		if e.Kind == datastore.EventAPD {
			apd <- struct{}{}
		}
	})
	defer cancel()
	clk := b.lab.Clock.(*clockwork.FakeClock)
	ctx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	b.lab.Peers["cvm-a"].SetPowered(false)
	clk.Advance(10 * time.Second)
	require.NoError(t, clk.BlockUntilContext(ctx, 2))
	clk.Advance(5 * time.Second)
	select {
	case <-apd:
	case <-ctx.Done():
		t.Fatal("no APD")
	}
}

func TestNasGolden(t *testing.T) {
	b, m := nasBench(t)
	cmdtest.Golden(t, "nas-add-list-delete", b.transcript(t,
		"esxcfg-nas -l",
		"esxcfg-nas -a -o 192.168.5.2 -s /ctr1 ctr1",
		"esxcfg-nas -l",
		"esxcfg-nas --add --host 192.168.5.2 --share /ctr1 again",
		"esxcfg-nas -a -o 192.168.5.2 -s /nosuch ctr2",
		"esxcfg-nas -a -o 192.168.1.1 -s /ctr1 ctr3",
		"esxcfg-nas -a -o nas.example.com -s /ctr1 ctr4",
		"esxcfg-nas -l",
		"esxcfg-nas -d ctr1",
		"esxcfg-nas -d ctr1",
		"esxcfg-nas -l",
	))
	cmdtest.Golden(t, "nas-errors", b.transcript(t,
		"esxcfg-nas",
		"esxcfg-nas -a -o 192.168.5.2 ctr1",
		"esxcfg-nas -a -o 192.168.5.2 -s /ctr1",
		"esxcfg-nas -a -o 192.168.5.2 -s /ctr1 a b",
		"esxcfg-nas -a -l",
		"esxcfg-nas -x",
		"esxcfg-nas -d",
		"esxcfg-nas -l extra",
		"esxcfg-nas -r",
		"esxcfg-nas -v 4.1 -a -o 192.168.5.2 -s /ctr1 ctr1",
	))
	cmdtest.Golden(t, "nas-help", b.transcript(t, "esxcfg-nas -h"))
	require.Empty(t, m.List())

	b.run(t, "esxcfg-nas -a -o 192.168.5.2 -s /ctr1 ctr1")
	enterAPD(t, b, m)
	cmdtest.Golden(t, "nas-apd", b.transcript(t, "esxcfg-nas -l"))
}

// VERIFIED lines (reference §5.1-§5.4), byte for byte.
func TestNasVerified(t *testing.T) {
	b, _ := nasBench(t)
	out, _, code := b.run(t, "esxcfg-nas -a -o 192.168.5.2 -s /ctr1 ctr1")
	require.Equal(t, 0, code)
	require.Equal(t, "Connecting to NAS volume: ctr1\nctr1 created and connected.\n", out)
	out, _, _ = b.run(t, "esxcfg-nas -l")
	require.Equal(t, "ctr1 is /ctr1 from 192.168.5.2 mounted available\n", out)
	out, errs, code := b.run(t, "esxcfg-nas -a -o 192.168.5.2 -s /denied Belstar_Ae2")
	require.Equal(t, 1, code)
	require.Equal(t, "Connecting to NAS volume: Belstar_Ae2\n", out)
	require.Equal(t, "Unable to connect to NAS volume Belstar_Ae2: Unable to complete Sysinfo operation.  Please see the VMkernel log file for more details.: Sysinfo error: The NFS server denied the mount requestSee VMkernel log for details.\n", errs)
	out, _, _ = b.run(t, "esxcfg-nas -d ctr1")
	require.Equal(t, "NAS volume ctr1 deleted.\n", out)
	out, _, _ = b.run(t, "esxcfg-nas -l")
	require.Equal(t, "No NAS datastore found\n", out)
}

func FuzzEsxcfgNas(f *testing.F) {
	for _, s := range []string{"-l", "-a -o 192.168.5.2 -s /ctr1 ctr1", "-d ctr1", "-a -y -o 192.168.5.2 -s /ctr1 x",
		"-h", "", "-r", "-v 3 -l", "--delete=x", "-ao 1.2.3.4 -s /x y", "-a -o x -s y z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b, m := nasBench(t)
		// A mount towards nobody waits for the fake clock; the wall-clock
		// bound makes it give up like Ctrl-C.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		cmd, _ := b.reg.Command("/sbin/esxcfg-nas")
		before := nasSnapshot(m)
		var out, errs strings.Builder
		code := cmd(ctx, invocation(b, append([]string{"esxcfg-nas"}, strings.Split(line, " ")...), &out, &errs))
		if code == 0 {
			return
		}
		if errs.Len() == 0 {
			t.Fatalf("%q: exit %d with nothing on stderr (stdout %q)", line, code, out.String())
		}
		if !strings.Contains(errs.String(), " <options> ") && strings.Count(errs.String(), "\n") != 1 {
			t.Fatalf("%q: error is not one line: %q", line, errs.String())
		}
		if after := nasSnapshot(m); after != before {
			t.Fatalf("%q failed (%q) but changed the datastores: %s, was %s", line, errs.String(), after, before)
		}
	})
}

func nasSnapshot(m *datastore.Manager) string {
	var s strings.Builder
	for _, d := range m.List() {
		s.WriteString(d.Name + "=" + d.Host + ":" + d.Share + ";")
	}
	return s.String()
}

func invocation(b *bench, args []string, out, errs *strings.Builder) *shell.Invocation {
	return &shell.Invocation{
		Args: args, Stdin: strings.NewReader(""), Stdout: out, Stderr: errs,
		Dir: "/", Getenv: func(string) string { return "" }, Clock: b.lab.Clock,
	}
}
