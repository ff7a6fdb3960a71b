package harness

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

func dialHost(lab *Lab, host string) (*gossh.Client, error) {
	return gossh.Dial("tcp", lab.Host(host).Addr().String(), &gossh.ClientConfig{
		User: "root", Auth: []gossh.AuthMethod{sshdtest.KeyboardInteractive("nutanix/4u")},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
}

// waitEvent waits for the next event of a kind on a node, from now on: it
// subscribes before it returns, so that an event the caller causes next is
// not missed (a goroutine subscribing later could be beaten to it).
func waitEvent(t *testing.T, lab *Lab, cond string) (wait func()) {
	t.Helper()
	c, err := lab.ParseCondition(cond)
	require.NoError(t, err)
	require.NotNil(t, c.matches, "%q is not an event condition", cond)
	hit := make(chan struct{})
	var once sync.Once
	cancel := lab.Events.Subscribe(func(e Event) {
		if c.matches(e) {
			once.Do(func() { close(hit) })
		}
	})
	t.Cleanup(cancel)
	return func() {
		t.Helper()
		defer cancel()
		ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
		defer stop()
		select {
		case <-hit:
		case <-ctx.Done():
			t.Fatalf("%s: %v", cond, ctx.Err())
		}
	}
}

// SSH faults act on what a real SSH client sees, and a counted one leaves
// the list once spent.
func TestSSHFaults(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	clk := lab.FakeClock()

	// Refused twice, then the third login works.
	removed := waitEvent(t, lab, "event fault.remove on NTNX-BLOCK1-A")
	f, err := lab.AddFault(FaultSpec{Kind: FaultSSHRefuse, Node: "a", Count: 2})
	require.NoError(t, err)
	for range 2 {
		_, err := dialHost(lab, "NTNX-BLOCK1-A")
		require.Error(t, err)
	}
	removed()
	assert.Empty(t, lab.Faults(), "spent after 2 connections")
	c, err := dialHost(lab, "NTNX-BLOCK1-A")
	require.NoError(t, err)
	defer c.Close()
	var hits int
	for _, e := range lab.Events.Events() {
		if e.Kind == "ssh.fault" && e.Node == "NTNX-BLOCK1-A" {
			hits++
		}
	}
	assert.Equal(t, 2, hits, "each refusal is an ssh.fault event")
	_ = f

	// A hung command runs once the fault goes.
	h, err := lab.AddFault(FaultSpec{Kind: FaultSSHHang, Node: "a", Command: "esxcfg-route"})
	require.NoError(t, err)
	hit := waitEvent(t, lab, "event ssh.fault on a")
	out := make(chan string, 1)
	go func() {
		s, _, _ := sshdtest.Run(t, c, "esxcfg-route -l")
		out <- s
	}()
	hit()
	select {
	case s := <-out:
		t.Fatalf("the hung command completed: %q", s)
	default:
	}
	listed := lab.Faults()
	require.Len(t, listed, 1)
	assert.Equal(t, 1, listed[0].Hits)
	require.NoError(t, lab.RemoveFault(h.ID))
	assert.Contains(t, <-out, "192.168.5.0")

	// A slow handshake waits on the lab's clock.
	_, err = lab.AddFault(FaultSpec{Kind: FaultSSHSlow, Node: "b", Delay: Duration(5 * time.Second), Count: 1})
	require.NoError(t, err)
	slowHit := waitEvent(t, lab, "event ssh.fault on b")
	dialed := make(chan error, 1)
	go func() {
		c, err := dialHost(lab, "NTNX-BLOCK1-B")
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	slowHit()
	select {
	case err := <-dialed:
		t.Fatalf("the handshake did not wait: %v", err)
	default:
	}
	clk.Advance(5 * time.Second)
	require.NoError(t, <-dialed)

	// A dropped session ends without an exit status.
	_, err = lab.AddFault(FaultSpec{Kind: FaultSSHDrop, Node: "c", Count: 1})
	require.NoError(t, err)
	cc, err := dialHost(lab, "NTNX-BLOCK1-C")
	require.NoError(t, err)
	defer cc.Close()
	s, err := cc.NewSession()
	require.NoError(t, err)
	_, err = s.Output("esxcfg-route -l")
	assert.Error(t, err, "cut in the middle of its output")

	_, err = lab.AddFault(FaultSpec{Kind: FaultSSHSlow, Node: "a"})
	assert.ErrorContains(t, err, "delay must be positive")
	_, err = lab.AddFault(FaultSpec{Kind: FaultSSHRefuse, Node: "NTNX-BLOCK1-A-CVM"})
	assert.ErrorContains(t, err, "SSH faults act on ESXi hosts")
}
