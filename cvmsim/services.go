package cvmsim

import (
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"time"
)

// service is one AOS service as cluster status and genesis status name it.
type service struct {
	name    string // cluster status (CamelCase)
	genesis string // genesis status (lower case)
}

// services are a CVM's services in cluster status order, which is their
// start order. The names and the order up to InsightsDB are the VERIFIED
// AOS 6.x sample (reference §9.1); the rest are the usual AOS 6 services
// in their usual order, INFERRED. Stargate starts at Timers.StargateAfter;
// those before it come up between PingAfter and StargateAfter, those
// after it between StargateAfter and InitAfter.
var services = [...]service{
	{"Zeus", "zookeeper"},
	{"Scavenger", "scavenger"},
	{"Xmount", "xmount"},
	{"SysStatCollector", "sys_stat_collector"},
	{"IkatProxy", "ikat_proxy"},
	{"IkatControlPlane", "ikat_control_plane"},
	{"SSLTerminator", "ssl_terminator"},
	{"SecureFileSync", "secure_file_sync"},
	{"Medusa", "cassandra"},
	{"DynamicRingChanger", "dynamic_ring_changer"},
	{"Pithos", "pithos"},
	{"InsightsDB", "insights_server"},
	{"Athena", "athena"},
	{"Mercury", "mercury"},
	{"Mantle", "mantle"},
	{"VipMonitor", "vip_monitor"},
	{"Stargate", "stargate"},
	{"InsightsDataTransfer", "insights_data_transfer"},
	{"Ergon", "ergon"},
	{"Cerebro", "cerebro"},
	{"Chronos", "chronos"},
	{"Curator", "curator"},
	{"Prism", "prism"},
	{"CIM", "cim_service"},
	{"AlertManager", "alert_manager"},
	{"Arithmos", "arithmos"},
	{"Catalog", "catalog"},
	{"Acropolis", "acropolis"},
	{"Uhura", "uhura"},
	{"Snmp", "snmp_manager"},
	{"NutanixGuestTools", "nutanix_guest_tools"},
	{"MinervaCVM", "minerva_cvm"},
	{"ClusterConfig", "cluster_config"},
	{"APLOSEngine", "aplos_engine"},
	{"APLOS", "aplos"},
	{"Lazan", "lazan"},
	{"Delphi", "delphi"},
	{"ClusterHealth", "cluster_health"},
}

// stargateIndex is Stargate's position in services.
var stargateIndex = func() int {
	for i, s := range services {
		if s.name == "Stargate" {
			return i
		}
	}
	panic("cvmsim: no Stargate in the service list")
}()

// ServiceStatus is one service of a CVM.
type ServiceStatus struct {
	Name string // as cluster status shows it
	// Genesis is the name genesis status uses.
	Genesis string
	Up      bool
	// PIDs are the main process first, then its children; empty when
	// down. They are stable for one boot (and one Stargate start).
	PIDs []int
}

// PeerStatus is what one CVM tells the others about itself, for their
// cluster status.
type PeerStatus struct {
	Name string
	// IP is the public (eth0) address cluster status names the CVM by.
	IP    netip.Addr
	Power PowerState
	// Reachable: the node answers on the network. Zeus sees the CVM Up
	// from then on.
	Reachable bool
	// Ready: fully initialised.
	Ready    bool
	Stargate StargateState
	// Services in cluster status order; empty while not reachable.
	Services []ServiceStatus
	// GenesisPIDs are Genesis' own processes; empty while not reachable.
	GenesisPIDs []int
}

// Status returns the CVM's state as its peers see it.
func (c *CVM) Status() PeerStatus {
	c.mu.RLock()
	st := c.st
	sg := c.stargateStateLocked()
	c.mu.RUnlock()
	now := c.clock.Now()
	p := PeerStatus{Name: c.cfg.Name, IP: c.IP(), Power: st.power, Reachable: st.netUp, Ready: st.power == PowerUp, Stargate: sg}
	if !st.netUp {
		return p
	}
	pids := newPIDs(c.cfg.Name, st.boot)
	p.GenesisPIDs = pids.next(3)
	pre, post := stargateIndex, len(services)-stargateIndex-1
	t := now.Sub(st.bootAt)
	ping, sga, init := c.timers.PingAfter, c.timers.StargateAfter, c.timers.InitAfter
	for i, s := range services {
		// Every service gets its PIDs whether up or not, so that one
		// starting later does not shift the others'.
		ids := pids.next(3 + pids.r.IntN(4))
		var up bool
		switch {
		case st.power == PowerUp:
			up = true
		case i < stargateIndex:
			up = t >= ping+time.Duration(i+1)*(sga-ping)/time.Duration(pre+1)
		case i == stargateIndex:
			up = st.stargateStarted
		default:
			up = t >= sga+time.Duration(i-stargateIndex)*(init-sga)/time.Duration(post)
		}
		if i == stargateIndex {
			up = sg != StargateDown
		}
		ss := ServiceStatus{Name: s.name, Genesis: s.genesis, Up: up}
		if up {
			ss.PIDs = ids
		}
		p.Services = append(p.Services, ss)
	}
	if sg != StargateDown && st.sgGen > 1 {
		// Restarted after a fault: new processes, numbered after every
		// service started at boot, one block per restart.
		var ids []int
		for range st.sgGen - 1 {
			ids = pids.next(3 + pids.r.IntN(4))
		}
		p.Services[stargateIndex].PIDs = ids
	}
	return p
}

// pids hands out plausible, increasing process IDs, the same for the
// same CVM and boot: a service's PIDs do not change while it runs.
type pids struct {
	r    *rand.Rand
	last int
}

func newPIDs(name string, boot int) *pids {
	f := fnv.New64a()
	f.Write([]byte(name))
	r := rand.New(rand.NewPCG(f.Sum64(), uint64(boot)))
	return &pids{r: r, last: 3000 + r.IntN(7000)}
}

// next returns n PIDs: a main process and its children, close together
// as a process that forks at start gets them.
func (p *pids) next(n int) []int {
	p.last += 20 + p.r.IntN(900)
	out := []int{p.last}
	for range n - 1 {
		p.last += 1 + p.r.IntN(40)
		out = append(out, p.last)
	}
	return out
}
