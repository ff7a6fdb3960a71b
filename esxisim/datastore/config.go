package datastore

import "time"

// Config holds the host's NFS client settings. Field names follow the ESXi
// advanced settings they model (esxcli system settings advanced list -o
// /NFS/HeartbeatTimeout ...). Zero values take the defaults of a
// Nutanix-installed ESXi host (reference §9.5), which are the lab's.
type Config struct {
	// HeartbeatFrequency is NFS.HeartbeatFrequency: a NULL call goes to
	// each server this often (ESXi default 12 s).
	HeartbeatFrequency time.Duration
	// HeartbeatTimeout is NFS.HeartbeatTimeout: how long a heartbeat may
	// stay unanswered before it counts as failed. ESXi's default is 5 s;
	// Nutanix's first-boot script sets 30 s, the lab's default.
	HeartbeatTimeout time.Duration
	// HeartbeatMaxFailures is NFS.HeartbeatMaxFailures: consecutive failed
	// heartbeats before the datastore is declared inaccessible (APD).
	HeartbeatMaxFailures int
	// APDTimeout is Misc.APDTimeout: how long IO waits in the All Paths
	// Down state before it fails (140 s).
	APDTimeout time.Duration
	// DisableAPDHandling is Misc.APDHandlingEnable=0, which Nutanix sets:
	// IO then waits for the server for ever, as before ESXi 5.1. The lab
	// keeps ESXi's default (enabled) so that IO does fail after APDTimeout.
	DisableAPDHandling bool
	// MaxVolumes is NFS.MaxVolumes (Nutanix sets 64; ESXi 5.x's default
	// was 8).
	MaxVolumes int
	// MaxTransferSize bounds one READ or WRITE (NFS.MaxReadTransferSize
	// and NFS.MaxWriteTransferSize, 1 MiB); the server's FSINFO may lower
	// it. go-nfs advertises 1 GiB, which no real client uses.
	MaxTransferSize uint32

	// ReconnectInterval paces connection attempts while the server cannot
	// be reached: each attempt waits this long for the handshake before
	// the next (INFERRED: TCP's initial 1 s SYN retransmission timeout;
	// ESXi has no setting for it).
	ReconnectInterval time.Duration
	// MountTimeout bounds the portmapper, MOUNT and first NFS calls of a
	// mount (INFERRED: 30 s, about what esxcfg-nas -a takes to give up on
	// a silent server).
	MountTimeout time.Duration

	// OnEvent receives datastore events (see Event). It is called without
	// locks held and must not block for long.
	OnEvent func(Event)
}

// DefaultConfig returns the lab's defaults: ESXi's, with Nutanix's
// NFS.HeartbeatTimeout and NFS.MaxVolumes.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.HeartbeatFrequency <= 0 {
		c.HeartbeatFrequency = 12 * time.Second
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 30 * time.Second
	}
	if c.HeartbeatMaxFailures <= 0 {
		c.HeartbeatMaxFailures = 10
	}
	if c.APDTimeout <= 0 {
		c.APDTimeout = 140 * time.Second
	}
	if c.MaxVolumes <= 0 {
		c.MaxVolumes = 64
	}
	if c.MaxTransferSize == 0 {
		c.MaxTransferSize = 1 << 20
	}
	if c.ReconnectInterval <= 0 {
		c.ReconnectInterval = time.Second
	}
	if c.MountTimeout <= 0 {
		c.MountTimeout = 30 * time.Second
	}
	return c
}

// Event kinds.
const (
	// EventMounted: a datastore was mounted and is accessible.
	EventMounted = "datastore.accessible"
	// EventMountFailed: Add failed; Error says why.
	EventMountFailed = "datastore.mount_failed"
	// EventAPD: heartbeats failed HeartbeatMaxFailures times in a row; the
	// datastore is inaccessible (All Paths Down) and IO waits.
	EventAPD = "datastore.apd"
	// EventAPDTimeout: the datastore stayed in APD for APDTimeout; IO now
	// fails fast with an I/O error.
	EventAPDTimeout = "datastore.apd_timeout"
	// EventRestored: the server answers again after APD.
	EventRestored = "datastore.restored"
	// EventReconnected: the connection was lost (a reset after a route
	// change, a dead connection) and a new one is up. Flow describes it.
	EventReconnected = "datastore.reconnected"
	// EventUnmounted: Remove took the datastore away.
	EventUnmounted = "datastore.unmounted"
)

// Event is a change of a datastore's state, for the lab's event log.
type Event struct {
	Time time.Time
	Kind string
	// Host is the ESXi host's name.
	Host string
	// Datastore is the volume name (label).
	Datastore string
	Server    string
	Share     string
	// Local and Egress describe the connection an EventReconnected or
	// EventMounted event refers to: the source address the server sees
	// and the vmknic the flow leaves by. Target is the node that accepted
	// it.
	Local  string
	Egress string
	Target string
	// Outage is, for EventRestored, how long the datastore was in APD.
	Outage time.Duration
	Error  string
}
