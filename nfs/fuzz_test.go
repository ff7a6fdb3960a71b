package nfs

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// call builds one RPC call record.
func callRecord(xid, prog, vers, proc uint32, args []byte) []byte {
	e := xdrEnc{b: make([]byte, 4)}
	for _, w := range []uint32{xid, msgCall, 2, prog, vers, proc, 0, 0, 0, 0} {
		e.u32(w)
	}
	e.b = append(e.b, args...)
	return mark(e.b)
}

// FuzzRPC feeds raw bytes into a served connection (an in-memory pipe):
// whatever arrives, no panic escapes, nothing allocates without bound, and
// the server keeps answering new connections.
func FuzzRPC(f *testing.F) {
	st := NewMemStore()
	if err := st.CreateContainer("ctr1"); err != nil {
		f.Fatal(err)
	}
	wf, _ := st.FS().Create("ctr1/file")
	_, _ = wf.Write([]byte("hello"))
	_ = wf.Close()
	root, _ := st.Handle("ctr1", "")
	file, _ := st.Handle("ctr1", "file")
	srv := NewServer(st, Config{Exports: []Export{{Path: "/ctr1", Whitelist: everyone}}})
	defer srv.Close()

	fh := func(h []byte, extra ...uint32) []byte {
		e := xdrEnc{}
		e.opaque(h)
		for _, x := range extra {
			e.u32(x)
		}
		return e.b
	}
	str := func(s string) []byte { e := xdrEnc{}; e.string(s); return e.b }
	f.Add(callRecord(1, progNFS, 3, 0, nil))
	f.Add(callRecord(2, progMount, 3, mountMnt, str("/ctr1")))
	f.Add(callRecord(3, progMount, 3, mountExport, nil))
	f.Add(callRecord(4, progPortmap, 2, pmapGetport, fh(nil, progNFS, 3, 6, 0)[4:]))
	f.Add(callRecord(5, progNFS, 3, nfsGetattr, fh(root)))
	f.Add(callRecord(6, progNFS, 3, nfsRead, fh(file, 0, 0, 1<<30)))
	f.Add(callRecord(7, progNFS, 3, nfsWrite, append(fh(file, 0, 0, 5, 2), str("world")...)))
	f.Add(callRecord(8, progNFS, 3, nfsLookup, append(fh(root), str("file")...)))
	f.Add(callRecord(9, progNFS, 3, nfsReaddirplus, fh(root, 0, 0, 0, 0, 4096, 8192)))
	f.Add(callRecord(10, progNFS, 3, nfsCreate, append(append(fh(root), str("new")...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
	f.Add(callRecord(11, progNFS, 3, nfsSetattr, fh(file, 0, 0, 0, 1, 0, 0xffffffff, 0, 0, 0)))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})                 // a huge non-final fragment
	f.Add([]byte{0x80, 0, 0, 4, 0, 0, 0, 1})              // truncated header
	f.Add(append([]byte{0, 0, 0, 8}, make([]byte, 8)...)) // fragment, then EOF

	f.Fuzz(func(t *testing.T, in []byte) {
		feed(t, srv, in)
		// The server is still up: a new connection gets its NULL answered.
		c := dialPipe(srv)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(callRecord(99, progNFS, 3, 0, nil)); err != nil {
			t.Fatal(err)
		}
		rec, err := readRecord(bufio.NewReader(c), 1<<20)
		if err != nil || len(rec) < recordHeadroom+24 {
			t.Fatalf("no NULL reply after fuzz input: %v", err)
		}
	})
}

// dialPipe opens an in-memory connection to srv.
func dialPipe(srv *Server) net.Conn {
	client, server := net.Pipe()
	srv.accept(server, listenerOpts{allowAll: true})
	return client
}

// feed writes in to a fresh connection, reading whatever comes back.
func feed(t *testing.T, srv *Server, in []byte) {
	c := dialPipe(srv)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, c)
	}()
	_, _ = c.Write(in)
	c.Close()
	<-drained
}
