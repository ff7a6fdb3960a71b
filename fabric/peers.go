package fabric

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pires/go-proxyproto"
)

// minProbeTimeout bounds how long a probe waits for an answer, whatever
// the interval: a loaded machine must not pass for a dead process, whose
// connection is refused at once anyway.
const minProbeTimeout = 2 * time.Second

// WatchPeers probes the owner of every remote node (SetRemote) every
// `every` (default one second), until ctx ends. A node whose process does
// not answer, or answers that the node is off, is powered off in this
// model — its flows stall, dials and echoes to it get nothing, as in
// process — and powered on again when it answers that it is on; power-on
// resets the flows that were stalled towards it, as a rebooted server
// answers RST. The probes run on real time: they watch real processes,
// not the model.
func (nw *Network) WatchPeers(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		nw.probePeers(ctx, max(every, minProbeTimeout))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probePeers probes every owner once, all at once.
func (nw *Network) probePeers(ctx context.Context, timeout time.Duration) {
	owners := map[string][]*Node{}
	for _, x := range nw.Nodes() {
		if o := x.Remote(); o != "" {
			owners[o] = append(owners[o], x)
		}
	}
	var wg sync.WaitGroup
	for addr, nodes := range owners {
		wg.Go(func() {
			on, err := probe(ctx, addr, timeout)
			if ctx.Err() != nil {
				return // stopping: a cut-short probe proves nothing
			}
			for _, x := range nodes {
				x.SetPowered(err == nil && on[x.name])
			}
		})
	}
	wg.Wait()
}

var errProbe = errors.New("fabric: malformed probe answer")

// probe asks the process at addr which of its nodes are on.
func probe(ctx context.Context, addr string, timeout time.Duration) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	h := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	if _, err := h.WriteTo(conn); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	var head [3]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, err
	}
	if head[0] != answerProbe {
		return nil, errProbe
	}
	on := map[string]bool{}
	for range binary.BigEndian.Uint16(head[1:]) {
		l, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		entry := make([]byte, int(l)+1)
		if _, err := io.ReadFull(br, entry); err != nil {
			return nil, err
		}
		on[string(entry[:l])] = entry[l] != 0
	}
	return on, nil
}

// answerProbe tells a prober which of this process's nodes are on.
func (nw *Network) answerProbe(conn net.Conn) {
	out := []byte{answerProbe, 0, 0}
	k := 0
	for _, x := range nw.Nodes() {
		if x.isRemote() || len(x.name) > 255 || k == 1<<16-1 {
			continue
		}
		k++
		out = append(append(out, byte(len(x.name))), x.name...)
		if x.Powered() {
			out = append(out, 1)
		} else {
			out = append(out, 0)
		}
	}
	binary.BigEndian.PutUint16(out[1:], uint16(k))
	_ = conn.SetWriteDeadline(time.Now().Add(headerTimeout))
	_, _ = conn.Write(out)
}
