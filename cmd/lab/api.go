package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

// defaultAPIAddr is where lab serves its control API unless --api says
// otherwise ("off" serves none).
const defaultAPIAddr = "127.0.0.1:7480"

// startAPI serves the lab's control API on addr (port 0 picks a free one)
// and records its URL in lab.APIURL, for the endpoints JSON; on every
// interface (0.0.0.0:7480) the URL names 127.0.0.1, for this machine's
// clients. The API changes the lab, so off loopback it needs a bearer
// token. addr "" is the default address; "off" starts nothing (url "",
// stop a no-op). stop ends the event streams, then the server.
func startAPI(lab *harness.Lab, addr, token string) (url string, stop func(), err error) {
	switch addr {
	case "off":
		return "", func() {}, nil
	case "":
		addr = defaultAPIAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("--api %q: want HOST:PORT, like %s: %w", addr, defaultAPIAddr, err)
	}
	if token == "" && !loopback(host) {
		return "", nil, fmt.Errorf("the control API on %s needs a bearer token: set --api-token or AUTOPATHLAB_TOKEN", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("control API: %w", err)
	}
	api := controlapi.NewServer(lab, controlapi.Options{Token: token})
	// No write timeout: waits and event streams last as long as asked.
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// Serve fails only when the listener does; the lab goes on.
			fmt.Fprintf(os.Stderr, "lab: control API: %v\n", err)
		}
	}()
	url = "http://" + ln.Addr().String()
	if a, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && a.Addr().IsUnspecified() {
		// Every interface: the URL is for this machine's clients (labctl,
		// the endpoints JSON's readers); others use its address.
		url = "http://" + netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.Port()).String()
	}
	lab.APIURL = url
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Ending the event streams first lets Shutdown find every
			// connection idle.
			api.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
			<-done
		})
	}
	return url, stop, nil
}

// loopback reports whether host names only this machine: localhost or a
// loopback address. "" and 0.0.0.0 are every interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
