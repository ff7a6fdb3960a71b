package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

// The docker-compose lab (deploy/docker-compose.yml): the image built as
// `make images` builds it, one container per ESXi host and per CVM, OpenSSH
// on the published ports, the gateway's control API, seed 001's scenarios
// (c) and (e) with real container stops, watched through the gateway; and
// nothing left behind.

// composeTimeScale runs the CVMs' boot (120 s) in 6 s and Genesis' loop
// and stable period (30 s) in 1.5 s.
const composeTimeScale = 0.05

// compose is one project of the compose lab.
type compose struct {
	t       *testing.T
	root    string // the module root
	project string
	env     []string
	api     string
	ssh     map[string]string // service -> 127.0.0.1:PORT
}

// requireDocker skips the test, loudly, when the Docker daemon does not
// answer or docker-compose is missing.
func requireDocker(t *testing.T) {
	t.Helper()
	skip := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(os.Stderr, "\n!!!!! SKIP: %s !!!!!\n\n", msg)
		t.Skip("SKIP: " + msg)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		skip("docker daemon not reachable: no docker client (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		skip("docker daemon not reachable: docker info: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		skip("docker daemon reachable, but no docker-compose (v1) binary: %v", err)
	}
}

// freePorts returns n loopback addresses nothing listens on.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var lns []net.Listener
	var out []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func (c *compose) run(timeout time.Duration, name string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.root
	cmd.Env = append(os.Environ(), c.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *compose) must(timeout time.Duration, name string, args ...string) string {
	c.t.Helper()
	out, err := c.run(timeout, name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// dc runs docker-compose on the project.
func (c *compose) dc(args ...string) string {
	c.t.Helper()
	return c.must(3*time.Minute, "docker-compose", append([]string{"-p", c.project, "-f", "deploy/docker-compose.yml"}, args...)...)
}

func (c *compose) container(svc string) string { return c.project + "_" + svc + "_1" }

// left lists what of the project docker still has.
func (c *compose) left() string {
	var b strings.Builder
	filter := "label=com.docker.compose.project=" + c.project
	for _, what := range [][]string{{"ps", "-a"}, {"network", "ls"}, {"volume", "ls"}} {
		out, _ := c.run(time.Minute, "docker", append(what, "-q", "--filter", filter)...)
		if s := strings.TrimSpace(out); s != "" {
			fmt.Fprintf(&b, "docker %s: %s\n", strings.Join(what, " "), strings.Join(strings.Fields(s), " "))
		}
	}
	return b.String()
}

// retryUntil checks cond at a client's retry pace until it holds, fails
// for good (a *final error) or the deadline passes: a port that refuses, a
// node whose datastore is not mounted yet, conditions no event announces
// to a client outside.
func retryUntil(deadline time.Time, cond func() error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		var f *final
		if err == nil || errors.As(err, &f) || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

// final is an error retryUntil does not retry.
type final struct{ error }

// waitSSH waits until every published SSH port gives an SSH banner.
func (c *compose) waitSSH(deadline time.Time) {
	c.t.Helper()
	for svc, addr := range c.ssh {
		err := retryUntil(deadline, func() error {
			if !banner(addr) {
				return fmt.Errorf("no SSH banner on %s", addr)
			}
			return nil
		})
		if err != nil {
			out, _ := c.run(time.Minute, "docker-compose", "-p", c.project, "-f", "deploy/docker-compose.yml", "logs", "--no-color", svc)
			c.t.Fatalf("%s's SSH: %v:\n%s", svc, err, out)
		}
	}
}

// waitAPI waits for a condition through the gateway, retrying while the
// condition names what does not exist yet (a datastore mounting, a VM
// workload starting: a 400).
func waitAPI(ctx context.Context, api *controlapi.Client, cond string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	return retryUntil(deadline, func() error {
		_, err := api.Wait(ctx, cond, time.Until(deadline))
		var ae *controlapi.APIError
		if errors.As(err, &ae) && ae.Status == 400 {
			return err
		}
		if err != nil {
			return &final{err}
		}
		return nil
	})
}

// banner reports whether addr answers with an SSH identification.
func banner(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 8)
	n, _ := conn.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "SSH-2.0-")
}

func TestComposeLab(t *testing.T) {
	requireDocker(t)
	requireTool(t, "ssh")
	requireTool(t, "sshpass")
	t0 := time.Now()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	suffix := hex.EncodeToString(id)
	c := &compose{t: t, root: root, project: "apl" + suffix, ssh: map[string]string{}}
	image := "autopathlab:e2e-" + suffix

	// The image, as `make images` builds it.
	out := c.must(10*time.Minute, "make", "-s", "images", "IMAGE="+image)
	t.Logf("images: %s (%s)", strings.TrimSpace(out), time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() { c.run(time.Minute, "docker", "rmi", "-f", image) })

	ports := freePorts(t, 7)
	c.env = []string{
		"AUTOPATHLAB_IMAGE=" + image,
		"AUTOPATHLAB_TIME_SCALE=" + fmt.Sprint(composeTimeScale),
		"AUTOPATHLAB_LOOP_PERIOD=" + fmt.Sprint(30*composeTimeScale),
		"AUTOPATHLAB_STABLE_PERIOD=" + fmt.Sprint(30*composeTimeScale),
		"AUTOPATHLAB_TOKEN=",
	}
	for i, svc := range []string{"esxi-a", "esxi-b", "esxi-c", "cvm-a", "cvm-b", "cvm-c"} {
		c.ssh[svc] = ports[i]
		v := "AUTOPATHLAB_SSH_" + strings.ToUpper(svc[len(svc)-1:])
		if strings.HasPrefix(svc, "cvm") {
			v = "AUTOPATHLAB_CVM_SSH_" + strings.ToUpper(svc[len(svc)-1:])
		}
		c.env = append(c.env, v+"="+ports[i])
	}
	c.api = "http://" + ports[6]
	c.env = append(c.env, "AUTOPATHLAB_API="+ports[6])

	t.Cleanup(func() {
		t1 := time.Now()
		if out, err := c.run(3*time.Minute, "docker-compose", "-p", c.project, "-f", "deploy/docker-compose.yml", "--profile", "autopath", "down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
		if left := c.left(); left != "" {
			t.Errorf("docker-compose down -v left:\n%s", left)
		}
		t.Logf("down in %s; the whole test %s", time.Since(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	})
	t1 := time.Now()
	c.dc("up", "-d")
	c.waitSSH(time.Now().Add(2 * time.Minute))
	t.Logf("up, every SSH port answering, in %s", time.Since(t1).Round(time.Millisecond))

	// OpenSSH into host A's container through its published port.
	host, port, _ := net.SplitHostPort(c.ssh["esxi-a"])
	ssh := &sshClient{ip: host, port: port, knownHosts: filepath.Join(t.TempDir(), "known_hosts"), password: password}
	if stdout, stderr, code := ssh.exec(t, "esxcfg-route -l"); code != 0 || stdout != routesA {
		t.Fatalf("esxcfg-route -l: exit %d\n%s%s", code, stdout, stderr)
	}
	nas, stderr, code := ssh.exec(t, "esxcfg-nas -l")
	if code != 0 {
		t.Fatalf("esxcfg-nas -l: exit %d\n%s%s", code, nas, stderr)
	}
	t.Logf("esxcfg-nas -l on esxi-a: %q", nas)

	// The gateway: the whole lab, as labctl sees it.
	api := controlapi.NewClient(c.api, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var lv harness.LabView
	if err := retryUntil(time.Now().Add(time.Minute), func() (err error) {
		lv, err = api.Lab(ctx)
		return err
	}); err != nil {
		t.Fatalf("the gateway does not answer: %v", err)
	}
	if len(lv.Hosts) != 3 || len(lv.CVMs) != 3 {
		t.Fatalf("gateway: %d hosts, %d CVMs: %+v", len(lv.Hosts), len(lv.CVMs), lv)
	}
	for _, e := range lv.Endpoints {
		if (e.Role == "esxi" || e.Role == "cvm") && e.Listeners["ssh"] == "" {
			t.Errorf("gateway endpoints: %s has no ssh listener: %+v", e.Name, e)
		}
	}

	// docker stop is a CVM's power-off, docker start its boot: the gateway
	// sees both, and the CVM's container boots when it starts again.
	t2 := time.Now()
	c.must(time.Minute, "docker", "stop", "-t", "5", c.container("cvm-a"))
	if _, err := api.Wait(ctx, "cvm a power off", 30*time.Second); err != nil {
		t.Fatalf("after docker stop: %v", err)
	}
	c.must(time.Minute, "docker", "start", c.container("cvm-a"))
	if _, err := api.Wait(ctx, "cvm a ready", time.Minute); err != nil {
		t.Fatalf("after docker start: %v", err)
	}
	es, err := api.Events(ctx, controlapi.EventQuery{Kind: "power.on", Node: "NTNX-BLOCK1-A-CVM"})
	if err != nil || len(es) == 0 {
		t.Fatalf("cvm-a started again without booting (power.on): %v %+v", err, es)
	}
	t.Logf("cvm-a stopped, started and booted in %s", time.Since(t2).Round(time.Millisecond))

	composeFailover(t, c, api, ctx)
}

// composeFailover is seed 001's (c) and (e) with the autopath service
// (Genesis) running: CVM A's container stops, host A's IO stalls (its
// datastore goes APD unless Genesis is quicker), a route via a healthy CVM
// appears and IO resumes; CVM A's container starts, boots, and after the
// stable period the route is removed, gracefully. Host A's NFS reaches
// the CVMs in their containers over the cross-process fabric.
func composeFailover(t *testing.T, c *compose, api *controlapi.Client, ctx context.Context) {
	if err := waitAPI(ctx, api, "host a datastore ctr1 accessible", time.Minute); err != nil {
		es, _ := api.Events(ctx, controlapi.EventQuery{Kind: "fabric"})
		t.Fatalf("host A's datastore (mounted from CVM A's container over the cross-process fabric): %v; fabric events: %+v", err, es)
	}
	t0 := time.Now()
	c.dc("--profile", "autopath", "up", "-d", "autopath")
	if err := waitAPI(ctx, api, "host a io flowing", time.Minute); err != nil {
		t.Fatalf("host A's IO: %v", err)
	}
	// Genesis logs in to every host before it acts: wait for its first
	// round on host A.
	if _, err := api.Wait(ctx, "event ssh.command on NTNX-BLOCK1-A", time.Minute); err != nil {
		t.Fatalf("the autopath never ran a command on host A: %v", err)
	}

	// (c): CVM A's container stops. Host A's IO stalls (the datastore
	// may go APD first, or Genesis may be quicker), a route via a healthy
	// CVM appears, and the datastore reconnects through it.
	stream, err := api.OpenStream(ctx, controlapi.EventQuery{Node: "NTNX-BLOCK1-A"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	next := func(what string, match func(harness.Event) bool) harness.Event {
		t.Helper()
		for {
			ev, err := stream.Next()
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if ev.Event.Kind != "" && match(ev.Event) {
				return ev.Event
			}
		}
	}
	c.must(time.Minute, "docker", "stop", "-t", "5", c.container("cvm-a"))
	tStop := time.Now()
	stall := next("host A's IO stalling", func(e harness.Event) bool {
		return e.Kind == "io.outage.start" || e.Kind == "datastore.apd"
	})
	route := next("a route on host A", func(e harness.Event) bool {
		return e.Kind == "route.add" && e.Network == "192.168.5.2/32"
	})
	if route.Gateway != "192.168.1.28" && route.Gateway != "192.168.1.29" {
		t.Fatalf("(c) host A routed via %s, not a healthy CVM", route.Gateway)
	}
	back := next("host A's datastore through the route", func(e harness.Event) bool {
		return e.Kind == "datastore.reconnected" || e.Kind == "datastore.restored"
	})
	if err := waitAPI(ctx, api, "host a io flowing", time.Minute); err != nil {
		t.Fatalf("(c) IO did not resume on host A: %v", err)
	}
	t.Logf("(c) %s, route via %s, %s to %s: IO back %s after docker stop", stall.Kind, route.Gateway, back.Kind, back.Target, time.Since(tStop).Round(time.Millisecond))

	// (e): CVM A's container starts again; after its boot and the stable
	// period the route goes.
	c.must(time.Minute, "docker", "start", c.container("cvm-a"))
	tStart := time.Now()
	if _, err := api.Wait(ctx, "cvm a ready", time.Minute); err != nil {
		t.Fatalf("(e) CVM A never ready: %v", err)
	}
	del := next("the route's removal", func(e harness.Event) bool {
		return e.Kind == "route.delete" && e.Network == "192.168.5.2/32"
	})
	if _, err := api.Wait(ctx, "host a no route 192.168.5.2/32", time.Minute); err != nil {
		t.Fatalf("(e) the route stayed: %v", err)
	}
	if err := waitAPI(ctx, api, "host a io flowing", time.Minute); err != nil {
		t.Fatalf("(e) IO: %v", err)
	}
	if es, err := api.Events(ctx, controlapi.EventQuery{Kind: "nfs.terminate"}); err != nil || len(es) == 0 {
		t.Errorf("(e) the route via %s went without NfsTerminateConnection: %v %+v", del.Gateway, err, es)
	}
	t.Logf("(e) route removed %s after docker start; failover scenarios in %s", time.Since(tStart).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
