// Command cvmsim runs one Nutanix CVM of a lab in a process of its own —
// one container per CVM in the docker-compose lab (docs/compose.md): its
// Stargate over the shared cluster store, status page and SSH, and the
// control API for it. The rest of the lab is in its model, run by the
// other containers.
//
//	cvmsim --node NAME [--topology FILE] [--listen 0.0.0.0] [--ssh-port 22]
//	       [--nfs-port 2049] [--status-port 2009] [--store DIR]
//	       [--fabric-port 7000] [--peers NAME=HOST:PORT,...] [--api :7480]
//	       [--api-token TOKEN | --api-open] [--time-scale F] [--events -]
//	       [--state-dir /var/lib/autopathlab]
//
// The first start brings the CVM up at once, as a lab starts; a start
// after a stop (the boot marker in --state-dir, the container's own
// filesystem) goes through the boot sequence, as a CVM powered on again.
// SIGTERM (docker stop) stops it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/autopathlab/autopathlab/cmd/internal/nodecmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := nodecmd.Run(ctx, nodecmd.CVM, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
