package harness

import (
	"context"
	"net"
	"time"

	"github.com/autopathlab/autopathlab/fabric"
)

// crossProcessFuncs is the cross-process fabric as a lab of one node uses
// it: package fabric's transport over real TCP, a PROXY protocol v2 header
// carrying each flow's modelled source and destination.
type crossProcessFuncs struct {
	// setRemote marks a placeholder node as run by the process whose
	// fabric listener is at owner ("host:port"): a flow to it is carried
	// there (fabric: (*Node).SetRemote).
	setRemote func(n *fabric.Node, owner string)
	// serve accepts the other processes' flows and delivers them to this
	// process's nodes' listeners, until ln closes (fabric:
	// (*Network).ServeFabric).
	serve func(nw *fabric.Network, ln net.Listener) error
	// watch probes every remote node's owner until ctx ends: a node whose
	// process does not answer is powered off in this model, and on again
	// when it answers (fabric: (*Network).WatchPeers).
	watch func(nw *fabric.Network, ctx context.Context, every time.Duration)
}

// defaultCrossProcess is the one seam between a lab of one node and the
// cross-process fabric: package fabric's own methods.
var defaultCrossProcess = crossProcessFuncs{
	setRemote: (*fabric.Node).SetRemote,
	serve:     (*fabric.Network).ServeFabric,
	watch:     (*fabric.Network).WatchPeers,
}
