// Command esxisim runs one ESXi host of a lab in a process of its own —
// one container per host in the docker-compose lab (docs/compose.md): its
// SSH server, datastore mounts and VM IO workload, and the control API for
// it. The rest of the lab is in its model, run by the other containers.
//
//	esxisim --node NAME [--topology FILE] [--listen 0.0.0.0] [--ssh-port 22]
//	        [--fabric-port 7000] [--peers NAME=HOST:PORT,...] [--api :7480]
//	        [--api-token TOKEN | --api-open] [--time-scale F] [--events -]
//
// NAME is a host of the topology, by name (NTNX-BLOCK1-A) or service name
// (esxi-a). SIGTERM (docker stop) stops it.
//
// Called cvmsim (a link to it, as the image has it) it is cvmsim: the two
// are one program, and the image carries it once.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/autopathlab/autopathlab/cmd/internal/nodecmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	kind := nodecmd.Host
	if filepath.Base(os.Args[0]) == "cvmsim" {
		kind = nodecmd.CVM
	}
	code := nodecmd.Run(ctx, kind, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
