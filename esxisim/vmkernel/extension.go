package vmkernel

// Extension returns the value kept on the host under key, creating it with
// create on first use. Services built on the host model in other packages
// (the NFS datastore client) keep their one per-host instance here, so that
// every view of the host — esxcli, esxcfg-nas, the control API — reaches the
// same instance without this package importing them. key should be a value
// of an unexported type of the owning package, as with context keys.
func (h *Host) Extension(key any, create func() any) any {
	h.extMu.Lock()
	defer h.extMu.Unlock()
	if v, ok := h.ext[key]; ok {
		return v
	}
	if create == nil {
		return nil
	}
	if h.ext == nil {
		h.ext = map[any]any{}
	}
	v := create()
	h.ext[key] = v
	return v
}
