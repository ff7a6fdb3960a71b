package fabric

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEcho(t *testing.T) {
	oneHop := 2*DefaultHopLatency + 40*time.Microsecond + 56*time.Nanosecond
	tests := []struct {
		name  string
		setup func(l *testLab)
		req   func(l *testLab) EchoRequest
		want  *EchoReply // nil: no reply
		err   error
	}{
		{
			name: "reply from a connected neighbour",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub} },
			want: &EchoReply{From: cvmAPub, Bytes: 64, TTL: 64, RTT: oneHop},
		},
		{
			name: "the gateway's SVI answers with TTL 255",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: gwAddr, Size: 100} },
			want: &EchoReply{From: gwAddr, Bytes: 108, TTL: 255, RTT: oneHop + 44*time.Nanosecond},
		},
		{
			name: "local CVM over vmk1",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: cvmPriv} },
			want: &EchoReply{From: cvmPriv, Bytes: 64, TTL: 64, RTT: oneHop},
		},
		{
			name: "nobody owns the next hop",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: nobody} },
			err:  ErrHostDown,
		},
		{
			name:  "powered-off next hop",
			setup: func(l *testLab) { l.cvmA.SetPowered(false) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub} },
			err:   ErrHostDown,
		},
		{
			name:  "forced egress is down",
			setup: func(l *testLab) { l.host.Interface("vmk1").SetUp(false) },
			req: func(l *testLab) EchoRequest {
				return EchoRequest{Dst: cvmPriv, Iface: l.host.Interface("vmk1")}
			},
			err: ErrNetDown,
		},
		{
			name:  "no route",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Delete(pfx("0.0.0.0/0"), gwAddr)) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: ip("8.8.8.8")} },
			err:   ErrNetUnreachable,
		},
		{
			name: "largest unfragmented payload",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub, Size: 1472, DF: true} },
			want: &EchoReply{From: cvmAPub, Bytes: 1480, TTL: 64, RTT: oneHop - 56 + 1472},
		},
		{
			name: "message too long with DF",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub, Size: 1473, DF: true} },
			err:  ErrMsgSize,
		},
		{
			name: "too long without DF is fragmented",
			req:  func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub, Size: 8000} },
			want: &EchoReply{From: cvmAPub, Bytes: 8008, TTL: 64, RTT: oneHop - 56 + 8000},
		},
		{
			name:  "jumbo frame dropped at a 1500-byte ingress",
			setup: func(l *testLab) { l.host.Interface("vmk0").SetMTU(9000) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub, Size: 8972, DF: true} },
		},
		{
			name:  "dropped by a gateway that does not forward",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Add(pfx("10.9.0.0/16"), gwAddr)) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: ip("10.9.1.1")} },
		},
		{
			name:  "seed 001: CVM B accepts 192.168.5.2 on eth0 (AcceptAny)",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Add(host32, cvmBPub)) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: cvmPriv} },
			want:  &EchoReply{From: cvmPriv, Bytes: 64, TTL: 64, RTT: oneHop},
		},
		{
			name:  "a plain server drops its other interface's address",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Add(pfx("10.0.0.50/32"), filerIP)) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: filerSt} },
		},
		{
			name:  "a plain server answers for its ingress address",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Add(pfx("10.0.0.50/32"), filerIP)) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: filerIP} },
			want:  &EchoReply{From: filerIP, Bytes: 64, TTL: 64, RTT: oneHop},
		},
		{
			name: "vmkping -I vmk0 to the local CVM's private address: nobody on the VLAN owns it",
			req: func(l *testLab) EchoRequest {
				return EchoRequest{Dst: cvmPriv, Iface: l.host.Interface("vmk0")}
			},
			err: ErrHostDown,
		},
		{
			name:  "powered-off sender",
			setup: func(l *testLab) { l.host.SetPowered(false) },
			req:   func(*testLab) EchoRequest { return EchoRequest{Dst: cvmAPub} },
			err:   ErrPoweredOff,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLab(t)
			if tt.setup != nil {
				tt.setup(l)
			}
			got, err := l.host.Echo(tt.req(l))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestEchoThroughRouter sends an echo through a forwarding node to a
// subnet the sender is not on: one more hop each way, one less TTL.
func TestEchoThroughRouter(t *testing.T) {
	l := newTestLab(t)
	r := l.node(NodeConfig{Name: "router", Forwarding: true},
		InterfaceConfig{Name: "ge0", Addr: pfx("192.168.1.254/24"), MAC: mac(0xfe), Segment: "public"},
		InterfaceConfig{Name: "ge1", Addr: pfx("10.0.0.1/24"), MAC: mac(0xf1), Segment: "storage"},
	)
	r.SetRouter(NewRouteTable(r.Interfaces, r.Reevaluate))
	l.nw.SetLatency("storage", 1*time.Millisecond)
	require.NoError(t, l.rt.Add(pfx("10.0.0.0/24"), ip("192.168.1.254")))

	got, err := l.host.Echo(EchoRequest{Dst: filerSt})
	require.NoError(t, err)
	require.Equal(t, &EchoReply{
		From: filerSt, Bytes: 64, TTL: 63,
		RTT: 2*(DefaultHopLatency+time.Millisecond) + 40*time.Microsecond + 56*time.Nanosecond,
	}, got)

	// Beyond the router nobody owns the address: the request is lost there,
	// not at the sender.
	got, err = l.host.Echo(EchoRequest{Dst: ip("10.0.0.77")})
	require.NoError(t, err)
	require.Nil(t, got)

	// A router without a route for the destination drops it too.
	got, err = l.host.Echo(EchoRequest{Dst: ip("10.0.0.50")})
	require.NoError(t, err)
	require.NotNil(t, got)
	require.NoError(t, l.rt.Add(pfx("172.16.0.0/12"), ip("192.168.1.254")))
	got, err = l.host.Echo(EchoRequest{Dst: ip("172.16.0.1")})
	require.NoError(t, err)
	require.Nil(t, got)
}
