package conform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Builtin is the --autopath value that grades the lab's own reference
// Genesis (harness Options.Genesis).
const Builtin = "builtin:genesis"

// implementation is what is graded: the built-in Genesis, a program the
// kit runs, or one that is already running (attach).
type implementation interface {
	// start launches it against the kit's current lab (with env, the
	// contract); the built-in and an attached one have nothing to launch.
	start(env []string) error
	// stop ends what start launched.
	stop()
	// exited says why it is gone, nil while it runs.
	exited() error
	// done is closed when it is gone (nil: never, it is not the kit's).
	done() <-chan struct{}
}

// builtinImpl is the lab's own Genesis: it runs inside the lab.
type builtinImpl struct{}

func (builtinImpl) start([]string) error  { return nil }
func (builtinImpl) stop()                 {}
func (builtinImpl) exited() error         { return nil }
func (builtinImpl) done() <-chan struct{} { return nil }

// attachedImpl runs on its own; the kit only waits for it to log in.
type attachedImpl struct{}

func (attachedImpl) start([]string) error  { return nil }
func (attachedImpl) stop()                 {}
func (attachedImpl) exited() error         { return nil }
func (attachedImpl) done() <-chan struct{} { return nil }

// processImpl is a command the kit runs with /bin/sh -c, so that the
// command line is written as in a shell (quotes, variables, "cd dir &&
// ./run"), in a process group of its own, so that stop ends whatever the
// shell started.
type processImpl struct {
	command string
	out     io.Writer // its stdout and stderr, besides the tail kept
	tail    *tailBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when the process is gone
	err  error
}

// stopGrace is how long a stopped implementation has between SIGTERM and
// SIGKILL.
const stopGrace = 5 * time.Second

func (p *processImpl) start(env []string) error {
	cmd := exec.Command("/bin/sh", "-c", p.command)
	cmd.Env = append(os.Environ(), env...)
	var w io.Writer = p.tail
	if p.out != nil {
		w = io.MultiWriter(p.tail, p.out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("autopath %q: %w", p.command, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exit, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exit status 0")
		}
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *processImpl) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.exit
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	pgid := cmd.Process.Pid // Setpgid: the group is the shell's pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Children that outlived the shell go with the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func (p *processImpl) done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

func (p *processImpl) exited() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exit == nil {
		return nil
	}
	select {
	case <-p.exit:
		return fmt.Errorf("the implementation exited (%v); its last output:\n%s", p.err, p.tail.String())
	default:
		return nil
	}
}

// tailBuffer keeps the last bytes written to it: enough of an
// implementation's output to say why it failed.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimRight(string(t.b), "\n")
	if s == "" {
		return "  (nothing)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// waitConnected waits until the implementation has logged in to every
// host over SSH, or it exits, or d passes.
func (k *kit) waitConnected(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		ch := k.rec.changed() // before looking: no login slips between
		missing := k.rec.loggedIn(k.info.hosts)
		if len(missing) == 0 {
			return nil
		}
		if err := k.impl.exited(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-k.impl.done():
		case <-t.C:
			return fmt.Errorf("the implementation did not log in to %s over SSH within %v", strings.Join(missing, ", "), d)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
