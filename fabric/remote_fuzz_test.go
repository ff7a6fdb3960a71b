package fabric

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/stretchr/testify/require"
)

// fuzzConn is a connection whose peer sent in and then went quiet: reads
// return in, then EOF; writes vanish.
type fuzzConn struct {
	mu     sync.Mutex
	r      *bytes.Reader
	closed chan struct{}
	once   sync.Once
}

func newFuzzConn(in []byte) *fuzzConn {
	return &fuzzConn{r: bytes.NewReader(in), closed: make(chan struct{})}
}

func (c *fuzzConn) Read(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r.Read(b)
}

func (c *fuzzConn) Write(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(b), nil
	}
}

func (c *fuzzConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzHeader is a flow header as a host's process would send it.
func fuzzHeader(t testing.TB, dst netip.AddrPort, target, ingress string) []byte {
	f := flowHeader{src: netip.MustParseAddrPort("192.168.5.1:49152"), dst: dst, target: target, ingress: ingress,
		source: "esx-a", gen: 7, path: []ifaceRef{{"esx-a", "vmk1"}, {target, ingress}}}
	h, err := f.encode()
	require.NoError(t, err)
	var b bytes.Buffer
	_, err = h.WriteTo(&b)
	require.NoError(t, err)
	return b.Bytes()
}

// FuzzServeFabric feeds the fabric listener's accept path whatever a
// connection may send: PROXY headers good and bad, probes, frames. It must
// not panic, and every connection must be let go once its peer is quiet
// and the flow it carried (if any) is closed.
func FuzzServeFabric(f *testing.F) {
	nfsDst := netip.AddrPortFrom(cvmPriv, nfs)
	valid := fuzzHeader(f, nfsDst, "cvm-a", "eth1")
	f.Add(valid)
	f.Add(append(bytes.Clone(valid), 'D', 0, 0, 0, 3, 'a', 'b', 'c', 'F'))
	f.Add(append(bytes.Clone(valid), 'R', 1, 0))
	f.Add(append(bytes.Clone(valid), 'D', 0xff, 0xff, 0xff, 0xff))
	f.Add(append(bytes.Clone(valid), 'X'))
	f.Add(fuzzHeader(f, netip.AddrPortFrom(cvmPriv, 111), "cvm-a", "eth1"))
	f.Add(fuzzHeader(f, netip.MustParseAddrPort("10.9.9.9:2049"), "cvm-a", "eth1"))
	f.Add(fuzzHeader(f, nfsDst, "esx-a", "vmk1"))
	f.Add(fuzzHeader(f, nfsDst, "nobody", "eth1"))
	var probe bytes.Buffer
	_, err := (&proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}).WriteTo(&probe)
	require.NoError(f, err)
	f.Add(probe.Bytes())
	f.Add([]byte("PROXY TCP4 192.168.5.1 192.168.5.2 49152 2049\r\n"))
	f.Add(append(bytes.Clone(proxyproto.SIGV2), 0x21, 0x11, 0xff, 0xff))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, in []byte) {
		p := buildRemoteTopo(t, New())
		p.host.SetRemote("127.0.0.1:1")
		ln, err := p.cvmA.Listen(nfs)
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		conn := newFuzzConn(in)
		p.nw.serveConn(conn)
		select {
		case <-conn.closed:
		case <-testCtx(t).Done():
			t.Fatal("the connection was never let go")
		}
	})
}
