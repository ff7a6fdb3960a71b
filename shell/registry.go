package shell

import (
	"path"
	"sort"
	"sync"
)

// Registry maps executable paths (/bin/ls, /sbin/esxcfg-route) to Go
// commands. A session finds a command the way ash does: by looking for the
// file along PATH in the FS. That is why every registered path is also
// created as a file in each FS the registry is installed in: `ls /bin`,
// `which` and execution all agree, and `rm /bin/foo` really removes foo.
type Registry struct {
	mu     sync.RWMutex
	byPath map[string]Command
	fss    map[*tree]*FS
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byPath: map[string]Command{}, fss: map[*tree]*FS{}}
}

// Register adds cmd at the absolute path p; the base name is the command's
// name. Registering a path again replaces its command.
func (r *Registry) Register(p string, cmd Command) {
	p = Clean(p)
	r.mu.Lock()
	r.byPath[p] = cmd
	fss := make([]*FS, 0, len(r.fss))
	for _, f := range r.fss {
		fss = append(fss, f)
	}
	r.mu.Unlock()
	for _, f := range fss {
		installFile(f, p)
	}
}

// Install creates the files of all registered paths in f, now and for
// later registrations. NewSession calls it.
func (r *Registry) Install(f *FS) {
	r.mu.Lock()
	if _, ok := r.fss[f.t]; ok {
		r.mu.Unlock()
		return
	}
	r.fss[f.t] = &FS{t: f.t}
	paths := make([]string, 0, len(r.byPath))
	for p := range r.byPath {
		paths = append(paths, p)
	}
	r.mu.Unlock()
	for _, p := range paths {
		installFile(f, p)
	}
}

// installFile creates an executable placeholder for a registered command
// unless something is already there (a node may have put its own file).
func installFile(f *FS, p string) {
	f = &FS{t: f.t}
	if _, err := f.Lstat(p); err == nil {
		return
	}
	if err := f.MkdirAll(path.Dir(p)); err != nil {
		return
	}
	_ = f.WriteFile(p, nil, 0o755)
}

// Command returns the command registered at the absolute path p.
func (r *Registry) Command(p string) (Command, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	cmd, ok := r.byPath[p]
	return cmd, ok
}

// Names returns the sorted, distinct names of the registered commands.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := map[string]bool{}
	var names []string
	for p := range r.byPath {
		if b := path.Base(p); !seen[b] {
			seen[b] = true
			names = append(names, b)
		}
	}
	sort.Strings(names)
	return names
}

// Paths returns the sorted registered paths.
func (r *Registry) Paths() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	paths := make([]string, 0, len(r.byPath))
	for p := range r.byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}
