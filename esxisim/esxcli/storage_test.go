package esxcli

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/shell"
)

// nfsLab is host A with a Stargate on CVM A exporting ctr1 and /vmnfsbackup
// (the VERIFIED sample's share), and an NFS client that reaches APD after
// one failed heartbeat.
func nfsLab(t testing.TB) (*vmkerneltest.Lab, *datastore.Manager) {
	t.Helper()
	l := vmkerneltest.New(t)
	store := nfs.NewMemStore()
	require.NoError(t, store.CreateContainer("ctr1"))
	require.NoError(t, store.CreateContainer("vmnfsbackup"))
	wl := []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")}
	srv := nfs.NewServer(store, nfs.Config{Name: "cvm-a", Exports: []nfs.Export{
		{Path: "/ctr1", Whitelist: wl}, {Path: "/vmnfsbackup", Whitelist: wl},
	}})
	t.Cleanup(func() { srv.Close() })
	for _, port := range []uint16{111, 2049} {
		ln, err := l.Peers["cvm-a"].Listen(port)
		require.NoError(t, err)
		go srv.Serve(ln)
	}
	m, err := datastore.New(l.Host, datastore.Config{
		HeartbeatFrequency: 10 * time.Second, HeartbeatTimeout: 5 * time.Second, HeartbeatMaxFailures: 1,
	})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return l, m
}

// esxcliCtx is esxcli under ctx: a mount towards nobody waits for the
// fake clock, and the ctx ends it as Ctrl-C would.
func esxcliCtx(ctx context.Context, l *vmkerneltest.Lab, args ...string) (string, int) {
	var out bytes.Buffer
	code := New(l.Host)(ctx, &shell.Invocation{Args: append([]string{"esxcli"}, args...), Stdout: &out, Stderr: &out})
	return out.String(), code
}

func transcript(t *testing.T, l *vmkerneltest.Lab, lines ...string) string {
	t.Helper()
	var s strings.Builder
	for _, line := range lines {
		out, code := esxcliCtx(context.Background(), l, strings.Fields(line)...)
		s.WriteString("$ esxcli " + line + "\n" + out)
		s.WriteString("[exit " + string(rune('0'+code)) + "]\n")
	}
	return s.String()
}

func TestStorageNfsGolden(t *testing.T) {
	l, m := nfsLab(t)
	golden(t, "storage_nfs", transcript(t, l,
		"storage nfs list",
		"storage nfs add --host=192.168.5.2 --share=/ctr1 --volume-name=ctr1",
		"storage nfs add -H 192.168.5.2 -s /vmnfsbackup -v nfsbackup -r",
		"storage nfs list",
		"storage nfs add --host=192.168.5.2 --share=/ctr1 --volume-name=other",
		"storage nfs add -H 192.168.5.2 -s /nosuch -v ctr1",
		"storage nfs add -H 192.168.5.2 -s /nosuch -v nosuch",
		"storage nfs add -H 192.168.1.1 -s /ctr1 -v gw",
		"storage nfs add -H 192.168.5.2 -s /ctr1",
		"storage nfs add -H 192.168.5.2 -s /ctr1 -v x -r true",
		"--formatter=csv storage nfs list",
		"--formatter=xml storage nfs list",
		"storage nfs remove -v nfsbackup",
		"storage nfs remove -v nfsbackup",
		"storage nfs remove",
		"storage nfs",
		"storage nfs add --help",
	))

	// APD: Accessible false, Mounted true, Hardware Acceleration Unknown.
	apd := make(chan struct{}, 1)
	defer m.Subscribe(func(e datastore.Event) {
		if e.Kind == datastore.EventAPD {
			apd <- struct{}{}
		}
	})()
	clk := l.Clock.(*clockwork.FakeClock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.Peers["cvm-a"].SetPowered(false)
	clk.Advance(10 * time.Second)
	require.NoError(t, clk.BlockUntilContext(ctx, 2))
	clk.Advance(5 * time.Second)
	select {
	case <-apd:
	case <-ctx.Done():
		t.Fatal("no APD")
	}
	golden(t, "storage_nfs_apd", transcript(t, l, "storage nfs list"))
}

// The VERIFIED samples of reference §2.5, byte for byte.
func TestStorageNfsVerified(t *testing.T) {
	l, _ := nfsLab(t)
	out, code := esxcliCtx(context.Background(), l, "storage", "nfs", "add", "--host=192.168.5.2", "--share=/vmnfsbackup", "--volume-name=nfsbackup")
	require.Equal(t, 0, code, out)
	assert.Equal(t, "", out)
	out, _ = esxcliCtx(context.Background(), l, "storage", "nfs", "list")
	// The capture strips trailing blanks; the table pads its last column
	// (reference §0.2 rule 5), so compare right-trimmed lines.
	assert.Equal(t, `Volume Name  Host         Share         Accessible  Mounted  Read-Only   isPE  Hardware Acceleration
-----------  -----------  ------------  ----------  -------  ---------  -----  ---------------------
nfsbackup    192.168.5.2  /vmnfsbackup        true     true      false  false  Not Supported
`, rtrim(out))
	out, code = esxcliCtx(context.Background(), l, "storage", "nfs", "add", "--host=192.168.5.2", "--share=/vmnfsbackup", "--volume-name=nfsbackup")
	assert.Equal(t, 1, code)
	assert.Equal(t, "Unable to create new NAS volume.  192.168.5.2:/vmnfsbackup is already exported by a volume with the name nfsbackup\n", out)
	out, code = esxcliCtx(context.Background(), l, "storage", "nfs", "remove", "-v", "nfsbackup")
	assert.Equal(t, 0, code)
	assert.Equal(t, "", out)
}

func FuzzEsxcliStorageNfs(f *testing.F) {
	for _, s := range []string{
		"list", "add\x00-H\x00192.168.5.2\x00-s\x00/ctr1\x00-v\x00ctr1", "remove\x00-v\x00ctr1",
		"add\x00--host=192.168.5.2\x00--share=/ctr1\x00--volume-name=x\x00-r", "add\x00-H\x00h", "remove", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := []string{"storage", "nfs"}
		if line != "" {
			args = append(args, strings.Split(line, "\x00")...)
		}
		if len(args) > 32 {
			t.Skip()
		}
		l, m := nfsLab(t)
		before := nfsState(m)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		out, code := esxcliCtx(ctx, l, args...)
		if code == 0 {
			return
		}
		if code != 1 || out == "" {
			t.Fatalf("%q: exit %d, output %q", line, code, out)
		}
		if after := nfsState(m); after != before {
			t.Fatalf("%q failed (%q) but changed the datastores: %s, was %s", line, out, after, before)
		}
	})
}

func nfsState(m *datastore.Manager) string {
	var s strings.Builder
	for _, d := range m.List() {
		s.WriteString(d.Name + "=" + d.Host + ":" + d.Share + ";")
	}
	return s.String()
}

func rtrim(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
