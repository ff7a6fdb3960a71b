package nfs

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startServer(t *testing.T, st *Store, wl []netip.Prefix, opts ...ServeOption) (*Server, netip.AddrPort, *eventLog) {
	t.Helper()
	ev := &eventLog{}
	srv := NewServer(st, Config{Name: "cvm", Exports: []Export{{Path: "/ctr1", Whitelist: wl}}, OnEvent: ev.add})
	t.Cleanup(func() { srv.Close() })
	return srv, serveTCP(t, srv, opts...), ev
}

// lookup returns the handle of name in dir.
func (r *rawClient) lookup(dir []byte, name string) (uint32, []byte) {
	r.t.Helper()
	e := xdrEnc{}
	e.opaque(dir)
	e.string(name)
	rp := r.call(progNFS, 3, nfsLookup, e.b)
	require.Equal(r.t, uint32(acceptSuccess), rp.stat)
	d := xdrDec{b: rp.body}
	st := d.u32()
	if st != nfs3OK {
		return st, nil
	}
	return st, append([]byte(nil), d.opaque(64)...)
}

func TestHandlesValidAcrossServersAndRestart(t *testing.T) {
	st := newTestStore(t)
	require.NoError(t, st.FS().MkdirAll("ctr1/vm1", 0o755))
	f, err := st.FS().Create("ctr1/vm1/disk-flat.vmdk")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	srvA, apA, _ := startServer(t, st, everyone)
	a := dialRaw(t, apA.String())
	_, root := a.mnt("/ctr1")
	stat, dir := a.lookup(root, "vm1")
	require.Equal(t, uint32(nfs3OK), stat)
	stat, disk := a.lookup(dir, "disk-flat.vmdk")
	require.Equal(t, uint32(nfs3OK), stat)

	// CVM B, same store: the host keeps its handles after autopathing.
	_, apB, _ := startServer(t, st, everyone)
	b := dialRaw(t, apB.String())
	stat, _ = b.nfsCall(nfsGetattr, disk)
	require.Equal(t, uint32(nfs3OK), stat)

	// Stargate restart on A: a new Server over the same store.
	srvA.Close()
	_, apA2, _ := startServer(t, st, everyone)
	a2 := dialRaw(t, apA2.String())
	stat, _ = a2.nfsCall(nfsGetattr, disk)
	require.Equal(t, uint32(nfs3OK), stat)

	// Renamed: same handle. Removed: stale.
	require.NoError(t, st.FS().Rename("ctr1/vm1/disk-flat.vmdk", "ctr1/vm1/moved.vmdk"))
	stat, _ = a2.nfsCall(nfsGetattr, disk)
	require.Equal(t, uint32(nfs3OK), stat)
	require.NoError(t, st.FS().Remove("ctr1/vm1/moved.vmdk"))
	stat, _ = a2.nfsCall(nfsGetattr, disk)
	require.Equal(t, uint32(nfs3Stale), stat)

	// Garbage and foreign handles are stale, with the procedure's
	// failure body (READ: post_op_attr FALSE).
	for _, h := range [][]byte{{1, 2, 3}, make([]byte, 64), fileHandle{epoch: 1, ctr: 1, fileID: 1}.encode()} {
		stat, rest := a2.nfsCall(nfsRead, h, 0, 0, 4096)
		require.Equal(t, uint32(nfs3Stale), stat)
		require.Equal(t, []byte{0, 0, 0, 0}, rest)
	}
}

func TestWhitelistTCP(t *testing.T) {
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	other := []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")}
	tests := []struct {
		name     string
		wl       []netip.Prefix
		opts     []ServeOption
		mount    uint32
		getattr  uint32
		denyEvts bool
	}{
		{"allowed", loop, nil, mnt3OK, nfs3OK, false},
		{"denied", other, nil, mnt3Acces, nfs3Acces, true},
		{"empty whitelist denies", nil, nil, mnt3Acces, nfs3Acces, true},
		{"debug listener allows all", other, []ServeOption{AllowAll()}, mnt3OK, nfs3OK, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newTestStore(t)
			_, ap, ev := startServer(t, st, tc.wl, tc.opts...)
			c := dialRaw(t, ap.String())
			stat, fh := c.mnt("/ctr1")
			require.Equal(t, tc.mount, stat)
			if fh == nil { // a denied client may still hold a handle
				fh, _ = st.Handle("ctr1", "")
			}
			stat, _ = c.nfsCall(nfsGetattr, fh)
			require.Equal(t, tc.getattr, stat)
			// WRITE's failure body is wcc_data: two FALSE words.
			if tc.getattr == nfs3Acces {
				stat, rest := c.nfsCall(nfsWrite, fh, 0, 0, 0, 0, 0)
				require.Equal(t, uint32(nfs3Acces), stat)
				require.Equal(t, make([]byte, 8), rest)
			}
			require.Equal(t, tc.denyEvts, ev.has(EventMountDenied))
			require.Equal(t, tc.denyEvts, ev.has(EventNFSDenied))
		})
	}
}

func TestMountPaths(t *testing.T) {
	st := newTestStore(t)
	require.NoError(t, st.FS().MkdirAll("ctr1/vm1", 0o755))
	f, _ := st.FS().Create("ctr1/file")
	f.Close()
	_, ap, _ := startServer(t, st, everyone)
	c := dialRaw(t, ap.String())
	for dir, want := range map[string]uint32{
		"/ctr1": mnt3OK, "/ctr1/": mnt3OK, "/ctr1/vm1": mnt3OK,
		"": mnt3NoEnt, "/": mnt3NoEnt, "ctr1": mnt3NoEnt, "/ctr2": mnt3NoEnt,
		"/ctr1/nope": mnt3NoEnt, "/ctr1/file": mnt3NotDir, "/ctr1/../etc": mnt3NoEnt,
	} {
		stat, _ := c.mnt(dir)
		require.Equal(t, want, stat, "mount %q", dir)
	}
}

func TestMountExportAndDump(t *testing.T) {
	st := newTestStore(t)
	require.NoError(t, st.CreateContainer("ctr2"))
	srv := NewServer(st, Config{Exports: []Export{
		{Path: "/ctr1", Whitelist: []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24"), netip.MustParsePrefix("127.0.0.1/32")}},
		{Path: "/ctr2", Whitelist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}})
	defer srv.Close()
	c := dialRaw(t, serveTCP(t, srv).String())

	rp := c.call(progMount, 3, mountExport, nil)
	require.Equal(t, uint32(acceptSuccess), rp.stat)
	type export struct {
		dir    string
		groups []string
	}
	var got []export
	d := xdrDec{b: rp.body}
	for d.bool() {
		x := export{dir: string(d.opaque(mntPath))}
		for d.bool() {
			x.groups = append(x.groups, string(d.opaque(255)))
		}
		got = append(got, x)
	}
	require.NoError(t, d.err)
	require.Equal(t, []export{
		{"/ctr1", []string{"192.168.5.0/24", "127.0.0.1/32"}},
		{"/ctr2", []string{"10.0.0.0/8"}},
	}, got)

	dump := func() [][2]string {
		rp := c.call(progMount, 3, mountDump, nil)
		d := xdrDec{b: rp.body}
		var out [][2]string
		for d.bool() {
			out = append(out, [2]string{string(d.opaque(255)), string(d.opaque(mntPath))})
		}
		require.NoError(t, d.err)
		return out
	}
	require.Empty(t, dump())
	stat, _ := c.mnt("/ctr1")
	require.Equal(t, uint32(mnt3OK), stat)
	stat, _ = c.mnt("/ctr2") // denied: not listed
	require.Equal(t, uint32(mnt3Acces), stat)
	require.Equal(t, [][2]string{{"127.0.0.1", "/ctr1"}}, dump())
	e := xdrEnc{}
	e.string("/ctr1")
	require.Equal(t, uint32(acceptSuccess), c.call(progMount, 3, mountUmnt, e.b).stat)
	require.Empty(t, dump())
	c.mnt("/ctr1")
	require.Equal(t, uint32(acceptSuccess), c.call(progMount, 3, mountUmntAll, nil).stat)
	require.Empty(t, dump())
}

func TestRPCErrorReplies(t *testing.T) {
	_, ap, _ := startServer(t, newTestStore(t), everyone)
	c := dialRaw(t, ap.String())
	tests := []struct {
		name             string
		prog, vers, proc uint32
		args             []byte
		stat             uint32
		mismatch         [2]uint32
	}{
		{"unknown program", 100021, 4, 0, nil, acceptProgUnavail, [2]uint32{}},
		{"nfs v4", progNFS, 4, 0, nil, acceptProgMismatch, [2]uint32{3, 3}},
		{"nfs v2", progNFS, 2, 0, nil, acceptProgMismatch, [2]uint32{3, 3}},
		{"mount v1", progMount, 1, 0, nil, acceptProgMismatch, [2]uint32{3, 3}},
		{"rpcbind v4", progPortmap, 4, 0, nil, acceptProgMismatch, [2]uint32{2, 2}},
		{"nfs proc 22", progNFS, 3, 22, nil, acceptProcUnavail, [2]uint32{}},
		{"mount proc 6", progMount, 3, 6, nil, acceptProcUnavail, [2]uint32{}},
		{"portmap callit", progPortmap, 2, 5, nil, acceptProcUnavail, [2]uint32{}},
		{"nfs null", progNFS, 3, 0, nil, acceptSuccess, [2]uint32{}},
		{"mount null", progMount, 3, 0, nil, acceptSuccess, [2]uint32{}},
		{"truncated getattr", progNFS, 3, nfsGetattr, []byte{0, 0, 0, 9}, acceptGarbageArgs, [2]uint32{}},
		{"huge opaque", progNFS, 3, nfsWrite, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, acceptGarbageArgs, [2]uint32{}},
		{"mount garbage", progMount, 3, mountMnt, []byte{0xff, 0xff, 0xff, 0xff}, acceptGarbageArgs, [2]uint32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := c.call(tc.prog, tc.vers, tc.proc, tc.args)
			require.False(t, rp.denied)
			require.Equal(t, tc.stat, rp.stat)
			require.Equal(t, tc.mismatch, rp.mismatch)
		})
	}

	t.Run("rpc version 3", func(t *testing.T) {
		e := xdrEnc{b: make([]byte, 4)}
		for _, w := range []uint32{77, msgCall, 3, progNFS, 3, 0, 0, 0, 0, 0} {
			e.u32(w)
		}
		_, err := c.c.Write(mark(e.b))
		require.NoError(t, err)
		rp, err := c.recv()
		require.NoError(t, err)
		require.True(t, rp.denied)
		require.Equal(t, uint32(rejectRPCMismatch), rp.stat)
		require.Equal(t, []byte{0, 0, 0, 2, 0, 0, 0, 2}, rp.body)
	})
}

func TestFSInfoTransferSizes(t *testing.T) {
	_, ap, _ := startServer(t, newTestStore(t), everyone)
	c := dialRaw(t, ap.String())
	_, root := c.mnt("/ctr1")
	stat, rest := c.nfsCall(nfsFsinfo, root)
	require.Equal(t, uint32(nfs3OK), stat)
	d := xdrDec{b: rest}
	require.True(t, d.bool())
	d.fixed(84) // fattr3
	rtmax, rtpref, _, wtmax := d.u32(), d.u32(), d.u32(), d.u32()
	require.NoError(t, d.err)
	require.Equal(t, []uint32{1 << 20, 1 << 20, 1 << 20}, []uint32{rtmax, rtpref, wtmax})
}

func TestPortmapper(t *testing.T) {
	srv := NewServer(newTestStore(t), Config{Exports: []Export{{Path: "/ctr1", Whitelist: everyone}}})
	defer srv.Close()
	modelled := serveTCP(t, srv)
	debug := serveTCP(t, srv, AdvertisePort(4242))
	getport := func(ap netip.AddrPort, prog, vers, prot uint32) uint32 {
		c := dialRaw(t, ap.String())
		e := xdrEnc{}
		for _, w := range []uint32{prog, vers, prot, 0} {
			e.u32(w)
		}
		rp := c.call(progPortmap, 2, pmapGetport, e.b)
		require.Equal(t, uint32(acceptSuccess), rp.stat)
		return binary.BigEndian.Uint32(rp.body)
	}
	tests := []struct {
		ap               netip.AddrPort
		prog, vers, prot uint32
		want             uint32
	}{
		{modelled, progNFS, 3, ipprotoTCP, 2049},
		{modelled, progMount, 3, ipprotoTCP, 2049},
		{modelled, progPortmap, 2, ipprotoTCP, 111},
		{modelled, progNFS, 3, 17, 0}, // no UDP
		{modelled, progNFS, 4, ipprotoTCP, 0},
		{modelled, 100021, 4, ipprotoTCP, 0},
		{debug, progNFS, 3, ipprotoTCP, 4242},
		{debug, progMount, 3, ipprotoTCP, 4242},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, getport(tc.ap, tc.prog, tc.vers, tc.prot), "%+v", tc)
	}
	c := dialRaw(t, modelled.String())
	rp := c.call(progPortmap, 2, pmapDump, nil)
	d := xdrDec{b: rp.body}
	n := 0
	for d.bool() {
		d.u64()
		d.u64()
		n++
	}
	require.NoError(t, d.err)
	require.Equal(t, 3, n)
}

// expectClosed waits for the server to end a connection and reports how.
func expectClosed(t *testing.T, c net.Conn) error {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Replies still in flight may come first: a request sent while Hung
	// can be read only after the mode changed, and be answered then.
	var b [512]byte
	var err error
	for err == nil {
		_, err = c.Read(b[:])
	}
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection not closed")
	return err
}

func TestSetMode(t *testing.T) {
	srv, ap, ev := startServer(t, newTestStore(t), everyone)
	c := dialRaw(t, ap.String())
	require.Equal(t, uint32(acceptSuccess), c.call(progNFS, 3, 0, nil).stat)
	require.Len(t, srv.Sessions(), 1)

	// Hung: the connection stays, requests are read, nothing answers.
	srv.SetMode(Hung)
	c.send(progNFS, 3, 0, nil)
	_ = c.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.br.ReadByte()
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "hung server answered: %v", err)
	h := dialRaw(t, ap.String()) // new connections are accepted
	h.send(progNFS, 3, 0, nil)
	require.Eventually(t, func() bool { return len(srv.Sessions()) == 2 }, 5*time.Second, time.Millisecond)

	// Up again: retransmissions are answered.
	srv.SetMode(Up)
	require.Equal(t, uint32(acceptSuccess), c.call(progNFS, 3, 0, nil).stat)

	// Down: existing connections are closed, new ones reset at once.
	srv.SetMode(Down)
	expectClosed(t, c.c)
	expectClosed(t, h.c)
	require.Empty(t, srv.Sessions())
	// The kernel completes the handshake; the reset may arrive before
	// connect returns or on the first read.
	if d, err := net.Dial("tcp", ap.String()); err != nil {
		require.ErrorIs(t, err, errConnReset())
	} else {
		require.ErrorIs(t, expectClosed(t, d), errConnReset())
	}
	// The client may see the reset before the server has recorded it.
	require.Eventually(t, func() bool { return ev.has(EventRefused) }, 5*time.Second, time.Millisecond)

	srv.SetMode(Up)
	c2 := dialRaw(t, ap.String())
	require.Equal(t, uint32(acceptSuccess), c2.call(progNFS, 3, 0, nil).stat)
}

func TestTerminateClientEOF(t *testing.T) {
	srv, ap, ev := startServer(t, newTestStore(t), everyone)
	c := dialRaw(t, ap.String())
	_, _ = c.mnt("/ctr1")
	sess := srv.Sessions()
	require.Len(t, sess, 1)
	require.Equal(t, "/ctr1", sess[0].Export)
	require.Equal(t, netip.MustParseAddr("127.0.0.1"), sess[0].Remote.Addr())

	require.Zero(t, srv.TerminateClient(netip.MustParseAddr("192.168.1.24")))
	require.Equal(t, 1, srv.TerminateClient(netip.MustParseAddr("127.0.0.1")))
	require.ErrorIs(t, expectClosed(t, c.c), io.EOF, "FIN, not RST")
	require.Eventually(t, func() bool { return len(srv.Sessions()) == 0 }, 5*time.Second, time.Millisecond)

	// One terminate event per request, even one that closed nothing,
	// naming the client as a whole; then the disconnect of each
	// connection it closed, saying why.
	var terms, discs []Event
	for _, e := range ev.events() {
		switch e.Type {
		case EventTerminate:
			terms = append(terms, e)
		case EventDisconnect:
			discs = append(discs, e)
		}
	}
	require.Len(t, terms, 2)
	assert.Equal(t, netip.MustParseAddrPort("192.168.1.24:0"), terms[0].Client)
	assert.Equal(t, "0 connection(s)", terms[0].Detail)
	assert.Equal(t, netip.MustParseAddrPort("127.0.0.1:0"), terms[1].Client)
	assert.Equal(t, "1 connection(s)", terms[1].Detail)
	assert.Equal(t, "cvm", terms[1].Server)
	require.Len(t, discs, 1)
	assert.Equal(t, sess[0].Remote, discs[0].Client)
	assert.Equal(t, TerminateReason, discs[0].Detail)
}
