package datastore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// Well-known ports.
const (
	portmapPort = 111
	nfsPort     = 2049
)

// ESXi's NFS client binds reserved source ports, as NFS servers that
// "secure" exports expect; it cycles through them.
const (
	firstReservedPort = 1023
	lastReservedPort  = 600
)

// maxLabel is the longest datastore name vSphere accepts.
const maxLabel = 42

// Info is a datastore as esxcli storage nfs list and esxcfg-nas -l show it.
type Info struct {
	Name       string
	Host       string
	Share      string
	Accessible bool
	Mounted    bool
	ReadOnly   bool
	UUID       string
	State      State
}

// Manager is the NFS client of one ESXi host: its datastores, mounted
// along the host's routes. Get it with Of (or New for non-default
// settings); every view of the host (esxcli, esxcfg-nas, the control API,
// the VM IO workload) uses that one instance.
type Manager struct {
	h   *vmkernel.Host
	cfg Config

	mu     sync.Mutex
	stores []*Datastore    // mount order, the listings' order
	adding map[string]bool // labels being mounted
	shares map[string]bool // host:share being mounted
	fs     *shell.FS
	port   uint16
	xid    uint32
	subs   map[int]func(Event)
	nsub   int
	closed bool
}

// extKey is the Manager's key among the host's extensions.
type extKey struct{}

// New creates the host's NFS client with cfg. It fails if the host has one
// already (Of made it, or New was called before).
func New(h *vmkernel.Host, cfg Config) (*Manager, error) {
	m := newManager(h, cfg)
	if got := h.Extension(extKey{}, func() any { return m }); got != m {
		return nil, fmt.Errorf("datastore: host %s has an NFS client already", h.Hostname())
	}
	return m, nil
}

// Of returns the host's NFS client, creating it with DefaultConfig on
// first use.
func Of(h *vmkernel.Host) *Manager {
	return h.Extension(extKey{}, func() any { return newManager(h, Config{}) }).(*Manager)
}

func newManager(h *vmkernel.Host, cfg Config) *Manager {
	f := fnv.New32a()
	f.Write([]byte(h.Hostname()))
	return &Manager{
		h: h, cfg: cfg.withDefaults(),
		adding: map[string]bool{}, shares: map[string]bool{},
		port: firstReservedPort, xid: f.Sum32(), subs: map[int]func(Event){},
	}
}

// Config returns the settings in force.
func (m *Manager) Config() Config { return m.cfg }

// Host returns the ESXi host.
func (m *Manager) Host() *vmkernel.Host { return m.h }

// Mount makes the datastores appear in fs, now and as they are added:
// /vmfs/volumes/<uuid8-uuid8> serves the export, and /vmfs/volumes/<label>
// is a symlink to it, as on ESXi.
func (m *Manager) Mount(fs *shell.FS) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fs != nil {
		return errors.New("datastore: already mounted in a filesystem")
	}
	m.fs = fs
	var errs []error
	for _, d := range m.stores {
		errs = append(errs, mountIn(fs, d))
	}
	return errors.Join(errs...)
}

// Volumes is where ESXi mounts datastores.
const Volumes = "/vmfs/volumes"

func mountIn(fs *shell.FS, d *Datastore) error {
	dir := d.uuid[:17]
	if err := fs.Mount(Volumes+"/"+dir, d); err != nil {
		return err
	}
	return fs.Symlink(dir, Volumes+"/"+d.name)
}

func unmountIn(fs *shell.FS, d *Datastore) {
	_ = fs.Unmount(Volumes + "/" + d.uuid[:17])
	if t, err := fs.Readlink(Volumes + "/" + d.name); err == nil && t == d.uuid[:17] {
		_ = fs.Remove(Volumes + "/" + d.name)
	}
}

// Subscribe calls fn with every event from now on, after Config.OnEvent.
// The returned function ends the subscription.
func (m *Manager) Subscribe(fn func(Event)) (cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nsub++
	id := m.nsub
	m.subs[id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs, id)
	}
}

func (m *Manager) emit(e Event) {
	e.Time = m.h.Clock().Now()
	e.Host = m.h.Hostname()
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(e)
	}
	m.mu.Lock()
	ids := make([]int, 0, len(m.subs))
	for id := range m.subs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	fns := make([]func(Event), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, m.subs[id])
	}
	m.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}

func (d *Datastore) emit(kind string, fill func(*Event)) {
	e := Event{Kind: kind, Datastore: d.name, Server: d.host, Share: d.share}
	if fill != nil {
		fill(&e)
	}
	d.m.emit(e)
}

// List returns the datastores in mount order.
func (m *Manager) List() []Info {
	m.mu.Lock()
	stores := append([]*Datastore(nil), m.stores...)
	m.mu.Unlock()
	out := make([]Info, 0, len(stores))
	for _, d := range stores {
		out = append(out, d.Info())
	}
	return out
}

// Get returns a mounted datastore by name.
func (m *Manager) Get(name string) (*Datastore, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.stores {
		if d.name == name {
			return d, true
		}
	}
	return nil, false
}

// Add mounts host:share as datastore name, as esxcli storage nfs add and
// esxcfg-nas -a do: portmapper, MOUNT, then the NFS connection, each along
// the host's routes from a reserved port. It returns once the datastore is
// accessible, or the VMkernel's reason why not (ErrDenied,
// ErrUnreachable, a *DuplicateError ...). A failed Add leaves nothing
// behind.
func (m *Manager) Add(ctx context.Context, name, host, share string, readonly bool) (*Datastore, error) {
	if name == "" || len(name) > maxLabel || strings.ContainsAny(name, "/\x00\n") || host == "" || share == "" {
		return nil, ErrBadParameter
	}
	key := host + ":" + share
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return nil, ErrUnreachable
	case m.shares[key]:
		m.mu.Unlock()
		return nil, ErrExists
	case m.adding[name]:
		m.mu.Unlock()
		return nil, &NameError{Name: name}
	}
	for _, d := range m.stores {
		if d.host == host && d.share == share {
			m.mu.Unlock()
			return nil, &DuplicateError{Host: host, Share: share, Name: d.name}
		}
		if d.name == name {
			m.mu.Unlock()
			return nil, &NameError{Name: name}
		}
	}
	if len(m.stores)+len(m.adding) >= m.cfg.MaxVolumes {
		m.mu.Unlock()
		return nil, ErrMaxVolumes
	}
	m.adding[name], m.shares[key] = true, true
	m.mu.Unlock()

	d, err := m.mountNew(ctx, name, host, share, readonly)
	if err == nil {
		d.startHeartbeats()
	}

	m.mu.Lock()
	delete(m.adding, name)
	delete(m.shares, key)
	if err == nil && m.closed {
		err = ErrUnreachable
	}
	if err != nil {
		m.mu.Unlock()
		if d != nil {
			d.shutdown(errUnmounted)
		}
		m.emit(Event{Kind: EventMountFailed, Datastore: name, Server: host, Share: share, Error: err.Error()})
		return nil, err
	}
	m.stores = append(m.stores, d)
	var ferr error
	if m.fs != nil {
		ferr = mountIn(m.fs, d)
	}
	m.mu.Unlock()
	d.emit(EventMounted, func(e *Event) {
		d.mu.Lock()
		c := d.cur
		d.mu.Unlock()
		if c != nil {
			e.Local, e.Egress, e.Target = flowOf(c.c)
		}
	})
	if ferr != nil {
		return d, fmt.Errorf("datastore: %s mounted, but not in the shell's filesystem: %w", name, ferr)
	}
	return d, nil
}

// Remove unmounts a datastore: its connection closes, IO on it fails, and
// it leaves /vmfs/volumes.
func (m *Manager) Remove(name string) error {
	m.mu.Lock()
	idx := -1
	for i, d := range m.stores {
		if d.name == name {
			idx = i
		}
	}
	if idx < 0 {
		m.mu.Unlock()
		return ErrNotFound
	}
	d := m.stores[idx]
	m.stores = append(m.stores[:idx:idx], m.stores[idx+1:]...)
	if m.fs != nil {
		unmountIn(m.fs, d)
	}
	m.mu.Unlock()
	d.shutdown(errUnmounted)
	d.emit(EventUnmounted, nil)
	return nil
}

// Close unmounts every datastore (the host shutting down). Add fails
// afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	names := make([]string, 0, len(m.stores))
	for _, d := range m.stores {
		names = append(names, d.name)
	}
	m.mu.Unlock()
	for _, n := range names {
		_ = m.Remove(n)
	}
}

// shutdown stops the datastore's goroutines and fails its IO with err.
func (d *Datastore) shutdown(err error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.state = Unmounted
	if d.apdTimer != nil {
		d.apdTimer.Stop()
		d.apdTimer = nil
	}
	c := d.cur
	d.cur = nil
	close(d.ready)
	ioCancel := d.ioCancel
	d.kickCancel()
	d.mu.Unlock()
	ioCancel(err)
	d.cancel()
	close(d.done)
	if c != nil {
		c.fail(err)
	}
	d.wg.Wait()
}

// dial opens a flow from a reserved port to dst along the host's routes:
// the egress vmknic and source address are the routing table's, as for
// the real NFS client, which cannot be bound to a vmknic.
func (m *Manager) dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	for range firstReservedPort - lastReservedPort + 1 {
		m.mu.Lock()
		p := m.port
		if m.port--; m.port < lastReservedPort {
			m.port = firstReservedPort
		}
		m.mu.Unlock()
		c, err := m.h.Node().Dial(ctx, dst, fabric.DialOptions{LocalPort: p})
		if !errors.Is(err, fabric.ErrAddrInUse) {
			return c, err
		}
	}
	return nil, fabric.ErrAddrInUse
}

// cred is AUTH_UNIX as root, with the host's name: what ESXi sends.
func (m *Manager) cred() rpc.Auth {
	a := rpc.AuthUnix{Machinename: m.h.ShortName(), GidLen: 1}
	return a.Auth()
}

// xidSeed starts each connection's xids at a different point, so that
// replies to one connection's calls never match another's.
func (m *Manager) xidSeed() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.xid += 1 << 20
	return m.xid
}

// volumeUUID derives the datastore's UUID from the export, so that a
// datastore keeps it across remounts and hosts mounting the same export
// agree (NFSv3 UUIDs on ESXi are likewise a hash of server and share).
func volumeUUID(host, share string) string {
	f := fnv.New64a()
	f.Write([]byte(host + ":" + share))
	s := f.Sum64()
	return fmt.Sprintf("%08x-%08x-0000-000000000000", uint32(s>>32), uint32(s))
}

// flowOf describes a connection for events: local address, egress vmknic
// and the node that accepted it.
func flowOf(c net.Conn) (local, egress, target string) {
	if fc, ok := c.(*fabric.Conn); ok {
		fi := fc.Info()
		return fi.Local.String(), fi.Egress, fi.Target
	}
	return c.LocalAddr().String(), "", ""
}
