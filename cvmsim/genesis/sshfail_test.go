package genesis_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// faultProxy sits between Genesis and one host's SSH listener and breaks
// the path on command: refuse (nothing listens), drop (every connection
// closes), blackhole (connections are accepted and never answered).
type faultProxy struct {
	t      *testing.T
	target string
	addr   string

	mu        sync.Mutex
	ln        net.Listener
	blackhole bool
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	p := &faultProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.refuse()
		p.drop()
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			hole := p.blackhole
			p.mu.Unlock()
			if hole {
				continue // held open, never answered
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *faultProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
		wg.Go(func() {
			_, _ = io.Copy(pair[0], pair[1])
			pair[0].Close()
			pair[1].Close()
		})
	}
	wg.Wait()
}

// refuse stops listening: connecting is refused.
func (p *faultProxy) refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// listen listens again on the same address.
func (p *faultProxy) listen() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// drop closes every connection, as a host reboot or a network failure
// does.
func (p *faultProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *faultProxy) setBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = on
}

// A dropped connection is re-established for the next command, a refused
// one is logged and retried the next round; Genesis carries on.
func TestSSHDroppedAndRefused(t *testing.T) {
	t.Parallel()
	var p *faultProxy
	e := newEnv(t, func(cfg *genesis.Config) {
		p = newFaultProxy(t, cfg.Hosts[0].SSHAddr)
		cfg.Hosts[0].SSHAddr = p.addr
	})
	e.tick()

	// Dropped: the permanent connection is gone; the next round
	// reconnects and acts.
	p.drop()
	e.power(cvmA, false)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	if len(e.log.lines("Reconnected to hypervisor 192.168.1.24 over ssh")) != 1 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
	if n := len(e.labEvents("ssh.login", hostA)); n != 2 {
		t.Errorf("%d SSH logins on host A, want 2", n)
	}

	// Refused: the round reports it, the other hosts are served, and the
	// next round after the host is back does the work.
	p.refuse()
	p.drop()
	e.remove(hostA, ipCVMB)
	e.power(cvmB, false) // host B needs a route this round
	e.advance(30 * time.Second)
	mark := e.events.mark()
	err := e.g.Tick(t.Context())
	if err == nil || !strings.Contains(err.Error(), hostA) {
		t.Fatalf("round with host A refusing SSH: err %v", err)
	}
	e.wantVia(hostA)
	e.wantVia(hostB, ipCVMC)
	evs, _ := e.events.since(mark)
	if got := changes(evs); len(got) != 2 || got[0] != "genesis.ssh_error NTNX-BLOCK1-A" && got[1] != "genesis.ssh_error NTNX-BLOCK1-A" {
		t.Errorf("changes %v, want an ssh_error for host A and host B's route", got)
	}
	if len(e.log.lines("ERROR hypervisor_ha.py:", `Failed to run "esxcfg-route -l" on hypervisor 192.168.1.24 over ssh`, "refused")) != 1 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
	// Still refusing next round: logged again, no crash.
	e.advance(30 * time.Second)
	if err := e.g.Tick(t.Context()); err == nil {
		t.Fatal("second refused round: no error")
	}

	p.listen()
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMC) // A's next healthy CVM now that B is off too
}

// A host that accepts the connection and never answers costs its own
// HostTimeout, not the other hosts' rounds.
func TestSlowHostDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	var p *faultProxy
	e := newEnv(t, func(cfg *genesis.Config) {
		p = newFaultProxy(t, cfg.Hosts[0].SSHAddr)
		cfg.Hosts[0].SSHAddr = p.addr
		// Long enough for a first handshake on a loaded machine, short
		// enough for a test.
		cfg.HostTimeout = 3 * time.Second
	})
	e.tick()
	// Host A's connection drops and every new one is accepted and never
	// answered.
	p.setBlackhole(true)
	p.drop()
	e.power(cvmB, false)
	e.advance(30 * time.Second)
	start := time.Now()
	err := e.g.Tick(t.Context())
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("round took %v with one silent host", d)
	}
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("round with a silent host A: err %v", err)
	}
	e.wantVia(hostB, ipCVMC)
	if len(e.log.lines("ERROR", "hypervisor 192.168.1.24", "timed out after 3s")) == 0 {
		t.Errorf("genesis.out:\n%s", e.log)
	}

	// The host answers again: the next round serves it.
	p.setBlackhole(false)
	p.drop()
	e.power(cvmA, false)
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMC)
}
