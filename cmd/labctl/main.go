// Command labctl drives a running lab through its control API: views of
// the hosts and CVMs, power and Stargate actions, routes, faults, packet
// captures, the nodes' files, the event log, waits on the model, reset and
// metrics.
//
//	labctl [--api URL] [--token TOKEN] [-o table|json] VERB [ARGS] [FLAGS]
//
//	labctl cvm a power off
//	labctl wait --timeout 60s 'cvm a power off'
//	labctl fault ssh-hang host a --for 30s
//	labctl events -f --kind power
//	labctl capture start host a vmk0
//
// --api defaults to $AUTOPATHLAB_API, then http://127.0.0.1:7480; --token
// to $AUTOPATHLAB_TOKEN. Flags may come before or after the verb and its
// arguments. `labctl help` lists the verbs, `labctl help VERB` explains one.
//
// Exit codes:
//
//	0  success; for wait, the condition holds
//	1  the lab refused the request (an HTTP 4xx or 5xx; the reason on stderr)
//	2  usage error
//	3  the lab cannot be reached
//	4  wait timed out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/autopathlab/autopathlab/harness/controlapi"
)

// Exit codes.
const (
	exitOK          = 0
	exitRefused     = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitTimeout     = 4
)

const defaultAPI = "http://127.0.0.1:7480"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are every flag; each verb says which of the non-global ones it
// takes.
type options struct {
	api, token, output string
	// fault
	forD, delay time.Duration
	count       int
	command     string
	// events
	follow     bool
	kind, node string
	limit      int
	// wait
	timeout time.Duration
	// route
	netstack string
	// capture, file
	snaplen int
	write   string
}

var globalFlags = []string{"api", "token", "o"}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("labctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints usage errors its own way
	api := os.Getenv("AUTOPATHLAB_API")
	if api == "" {
		api = defaultAPI
	}
	fs.StringVar(&o.api, "api", api, "the control API's `URL` ($AUTOPATHLAB_API)")
	fs.StringVar(&o.token, "token", os.Getenv("AUTOPATHLAB_TOKEN"), "the bearer `TOKEN` ($AUTOPATHLAB_TOKEN)")
	fs.StringVar(&o.output, "o", "table", "output `FORMAT`: table (for people) or json (the API's JSON, for scripts)")
	fs.DurationVar(&o.forD, "for", 0, "end the fault after `DURATION` of lab time")
	fs.IntVar(&o.count, "count", 0, "end an SSH fault after it hit `N` connections, sessions or commands")
	fs.StringVar(&o.command, "command", "", "ssh-hang: hang only commands that start with `PREFIX`")
	fs.DurationVar(&o.delay, "delay", 0, "ssh-slow: delay each SSH handshake by `DURATION`")
	fs.BoolVar(&o.follow, "f", false, "follow the event stream until interrupted")
	fs.StringVar(&o.kind, "kind", "", "only events of `KIND` (exact, or a prefix: ssh matches ssh.login)")
	fs.StringVar(&o.node, "node", "", "only events on `NODE` (a letter selects the host and its CVM)")
	fs.IntVar(&o.limit, "limit", 0, "only the last `N` events")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up waiting after `DURATION`")
	fs.StringVar(&o.netstack, "netstack", "", "the route's `NETSTACK` (default defaultTcpipStack)")
	fs.IntVar(&o.snaplen, "snaplen", 0, "capture start: keep `N` bytes of each frame (default 262144)")
	fs.StringVar(&o.write, "w", "", "capture get, file get: write to `FILE` (- for stdout)")
	return fs
}

// parseArgs parses flags wherever they are, as in `fault ssh-hang host a
// --for 30s`; everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageError is a wrong command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// timeoutError is a wait that timed out (exit 4).
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet(&o, stderr)
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout, "")
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "labctl: %v\nRun 'labctl help' for usage.\n", err)
		return exitUsage
	}
	if len(pos) == 0 {
		writeHelp(stderr, "")
		return exitUsage
	}
	v := verbNamed(pos[0])
	if v == nil {
		fmt.Fprintf(stderr, "labctl: unknown verb %q\nRun 'labctl help' for usage.\n", pos[0])
		return exitUsage
	}
	if o.output != "table" && o.output != "json" {
		fmt.Fprintf(stderr, "labctl: -o %q: want table or json\n", o.output)
		return exitUsage
	}
	var stray []string
	fs.Visit(func(f *flag.Flag) {
		if !slices.Contains(globalFlags, f.Name) && !slices.Contains(v.flags, f.Name) {
			stray = append(stray, "--"+f.Name)
		}
	})
	if len(stray) > 0 {
		sort.Strings(stray)
		fmt.Fprintf(stderr, "labctl %s: %s does not apply\nUsage: labctl %s\n", v.name, strings.Join(stray, ", "), v.usage)
		return exitUsage
	}
	cl := &cli{ctx: ctx, c: controlapi.NewClient(o.api, o.token), api: o.api, o: o, out: stdout, errw: stderr, json: o.output == "json"}
	return cl.exit(v, v.run(cl, pos[1:]))
}

// exit prints err and maps it to an exit code.
func (cl *cli) exit(v *verb, err error) int {
	var ue *usageError
	var te *timeoutError
	var ae *controlapi.APIError
	var ne *url.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(cl.errw, "labctl %s: %s\nUsage: labctl %s\n", v.name, ue.msg, v.usage)
		return exitUsage
	case errors.As(err, &te):
		fmt.Fprintf(cl.errw, "labctl: %s\n", te.msg)
		return exitTimeout
	case errors.As(err, &ae):
		fmt.Fprintf(cl.errw, "labctl: %s\n", ae.Message)
		if ae.Status == 401 {
			fmt.Fprintln(cl.errw, "labctl: set --token or AUTOPATHLAB_TOKEN to the lab's --api-token")
		}
		return exitRefused
	case errors.As(err, &ne):
		fmt.Fprintf(cl.errw, "labctl: cannot reach the lab at %s: %v (is it running with --api? set --api or AUTOPATHLAB_API)\n", cl.api, ne.Err)
		return exitUnreachable
	case errors.Is(err, errStreamEnded):
		fmt.Fprintf(cl.errw, "labctl: %v\n", err)
		return exitUnreachable
	}
	fmt.Fprintf(cl.errw, "labctl: %v\n", err)
	return exitRefused
}
