package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

// The capture and file verbs: the lab's own packet captures, exported as
// pcap, and files of the nodes' filesystems (what tcpdump-uw -w wrote).

var captureVerb = &verb{name: "capture",
	usage:   "capture start host|cvm|node REF [IFACE] [--snaplen N]\n       labctl capture list\n       labctl capture stop|rm ID\n       labctl capture get ID -w FILE|-",
	summary: "capture packets on a node's interface and get them as pcap",
	help: "start prints the capture's ID; without IFACE it captures every interface of the node.\n" +
		"The capture goes on until stop; get writes a snapshot while it runs (-w - to stdout).\n" +
		"node REF names a gateway or a filer.\n\n" +
		"  id=$(labctl capture start host a vmk0)\n  labctl capture stop $id\n  labctl capture get $id -w vmk0.pcap && tshark -r vmk0.pcap",
	flags: []string{"snaplen", "w"}, run: (*cli).capture}

var fileVerb = &verb{name: "file", usage: "file get host|cvm REF PATH -w FILE|-",
	summary: "copy a file from a host's or CVM's filesystem",
	help:    "  labctl file get host a /tmp/vmk0.pcap -w vmk0.pcap   # after tcpdump-uw -i vmk0 -w /tmp/vmk0.pcap",
	flags:   []string{"w"}, run: (*cli).file}

func (cl *cli) capture(args []string) error {
	if len(args) == 0 {
		return usagef("capture start|list|stop|get|rm")
	}
	op, args := args[0], args[1:]
	if op != "start" && cl.o.snaplen != 0 {
		return usagef("--snaplen applies to start")
	}
	if op != "get" && cl.o.write != "" {
		return usagef("-w applies to get")
	}
	switch op {
	case "start":
		return cl.captureStart(args)
	case "list", "ls":
		if err := noArgs(args); err != nil {
			return err
		}
		v, err := cl.c.Captures(cl.ctx)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.captures(v) })
	case "stop":
		if len(args) != 1 {
			return usagef("capture stop ID")
		}
		v, err := cl.c.StopCapture(cl.ctx, args[0])
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.captures([]harness.CaptureView{v}) })
	case "rm", "remove", "delete":
		if len(args) != 1 {
			return usagef("capture rm ID")
		}
		if err := cl.c.RemoveCapture(cl.ctx, args[0]); err != nil {
			return err
		}
		if !cl.json {
			fmt.Fprintf(cl.out, "capture %s removed\n", args[0])
		}
		return nil
	case "get":
		if len(args) != 1 {
			return usagef("capture get ID -w FILE|-")
		}
		return cl.download("capture "+args[0], func(ctx context.Context, w io.Writer) error {
			return cl.c.CapturePcap(ctx, args[0], w)
		})
	}
	return usagef("capture %q: want start, list, stop, get or rm", op)
}

func (cl *cli) captureStart(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return usagef("capture start host|cvm|node REF [IFACE]")
	}
	if cl.o.snaplen < 0 {
		return usagef("--snaplen must not be negative")
	}
	node, err := cl.nodeName(args[0], args[1])
	if err != nil {
		return err
	}
	req := controlapi.CaptureRequest{Node: node, Snaplen: cl.o.snaplen}
	if len(args) == 3 {
		req.Interface = args[2]
	}
	v, err := cl.c.StartCapture(cl.ctx, req)
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.line("%s", v.ID) })
}

// nodeName resolves `host REF` or `cvm REF` to the node's name here: "a"
// alone would not say which of host A and CVM A is meant. `node NAME` is
// any other node (a gateway, a filer), by name.
func (cl *cli) nodeName(role, ref string) (string, error) {
	switch role {
	case "host":
		v, err := cl.c.Host(cl.ctx, ref)
		return v.Name, err
	case "cvm":
		v, err := cl.c.CVM(cl.ctx, ref)
		return v.Name, err
	case "node":
		return ref, nil
	}
	return "", usagef("%q: want host, cvm or node", role)
}

func (cl *cli) file(args []string) error {
	if len(args) != 4 || args[0] != "get" {
		return usagef("file get host|cvm REF PATH -w FILE|-")
	}
	role, ref, name := args[1], args[2], args[3]
	var get func(context.Context, string, string, io.Writer) error
	switch role {
	case "host":
		get = cl.c.HostFile
	case "cvm":
		get = cl.c.CVMFile
	default:
		return usagef("%q: want host or cvm", role)
	}
	return cl.download(name, func(ctx context.Context, w io.Writer) error { return get(ctx, ref, name, w) })
}

// download writes what get fetches to -w's file, or to stdout for -w -.
// A failed download leaves no file behind.
func (cl *cli) download(what string, get func(context.Context, io.Writer) error) error {
	switch cl.o.write {
	case "":
		return usagef("-w FILE is missing (-w - writes to stdout)")
	case "-":
		return get(cl.ctx, cl.out)
	}
	f, err := os.Create(cl.o.write)
	if err != nil {
		return err
	}
	cw := &countingWriter{w: f}
	err = get(cl.ctx, cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(cl.o.write)
		return err
	}
	if !cl.json {
		fmt.Fprintf(cl.out, "%s: %d bytes written to %s\n", what, cw.n, cl.o.write)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func (t *table) captures(v []harness.CaptureView) {
	t.row("ID", "NODE", "INTERFACE", "STATE", "PACKETS", "BYTES", "SEEN", "DROPPED", "STARTED")
	for _, c := range v {
		iface := c.Interface
		if iface == "" {
			iface = "any"
		}
		t.row(c.ID, c.Node, iface, onOff(c.Running, "running", "stopped"), strconv.Itoa(c.Packets),
			strconv.FormatInt(c.Bytes, 10), strconv.FormatUint(c.Seen, 10), strconv.FormatUint(c.Dropped, 10), c.Started.Format(time.TimeOnly))
	}
}
