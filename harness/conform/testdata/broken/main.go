// Command broken is a deliberately broken autopath for the conformance
// kit's own tests, broken one of two ways (-mode):
//
//   - never-remove routes a host whose CVM is down to the first healthy
//     CVM, and never removes a route again, so a route an operator injects
//     stays and a host never switches back;
//   - first-cvm routes a host whose CVM is down via the first other CVM it
//     finds, dead or not, and removes a route as soon as the host's own
//     CVM answers, without NfsTerminateConnection.
//
// It reads the kit's environment contract (docs/conformance.md) and
// talks to the hosts over SSH like any implementation.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

type cvm struct{ name, host, ip, status string }
type host struct{ name, addr string }

func env(k string) string { return os.Getenv("AUTOPATHLAB_" + k) }

func main() {
	mode := flag.String("mode", "", "never-remove or first-cvm")
	flag.Parse()
	if *mode != "never-remove" && *mode != "first-cvm" {
		fmt.Fprintln(os.Stderr, "usage: broken -mode never-remove|first-cvm")
		os.Exit(2)
	}
	firstCVM := *mode == "first-cvm"
	nh, _ := strconv.Atoi(env("HOSTS"))
	nc, _ := strconv.Atoi(env("CVMS"))
	var hosts []host
	for i := 1; i <= nh; i++ {
		p := fmt.Sprintf("HOST_%d_", i)
		hosts = append(hosts, host{name: env(p + "NAME"), addr: env(p + "SSH")})
	}
	var cvms []cvm
	for i := 1; i <= nc; i++ {
		p := fmt.Sprintf("CVM_%d_", i)
		cvms = append(cvms, cvm{name: env(p + "NAME"), host: env(p + "HOST"), ip: env(p + "IP"), status: env(p + "STATUS")})
	}
	loop, _ := strconv.ParseFloat(env("LOOP_PERIOD"), 64)
	if loop <= 0 {
		loop = 1
	}
	period := time.Duration(loop * float64(time.Second))
	http.DefaultClient.Timeout = period / 2
	clients := map[string]*ssh.Client{}
	for {
		for _, h := range hosts {
			c, err := connect(clients, h)
			if err != nil {
				fmt.Fprintln(os.Stderr, h.name, err)
				continue
			}
			local := localCVM(cvms, h.name)
			if local == nil {
				continue
			}
			gw, up := nfsRoute(c, clients, h), healthy(*local)
			switch {
			case gw == "" && !up:
				for _, t := range cvms {
					// first-cvm takes the first one, dead or not.
					if t.name != local.name && (firstCVM || healthy(t)) {
						run(c, clients, h, "esxcfg-route -a 192.168.5.2 255.255.255.255 "+t.ip)
						break
					}
				}
			case gw != "" && up && firstCVM: // never-remove never does
				run(c, clients, h, "esxcfg-route -d 192.168.5.2 255.255.255.255 "+gw)
			}
		}
		time.Sleep(period) // its own loop, like Genesis' 30 s
	}
}

func localCVM(cvms []cvm, host string) *cvm {
	for i := range cvms {
		if cvms[i].host == host {
			return &cvms[i]
		}
	}
	return nil
}

func healthy(c cvm) bool {
	resp, err := http.Get(c.status)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Initialised bool `json:"initialised"`
	}
	return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&st) == nil && st.Initialised
}

func connect(clients map[string]*ssh.Client, h host) (*ssh.Client, error) {
	if c := clients[h.name]; c != nil {
		return c, nil
	}
	pw := env("SSH_PASSWORD")
	c, err := ssh.Dial("tcp", h.addr, &ssh.ClientConfig{
		User: env("SSH_USER"),
		Auth: []ssh.AuthMethod{ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			a := make([]string, len(qs))
			for i := range a {
				a[i] = pw
			}
			return a, nil
		}), ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	clients[h.name] = c
	return c, nil
}

func run(c *ssh.Client, clients map[string]*ssh.Client, h host, cmd string) string {
	s, err := c.NewSession()
	if err != nil {
		c.Close()
		delete(clients, h.name)
		return ""
	}
	defer s.Close()
	out, _ := s.CombinedOutput(cmd)
	return string(out)
}

// nfsRoute is the gateway of the host's route to 192.168.5.2, "" if none.
func nfsRoute(c *ssh.Client, clients map[string]*ssh.Client, h host) string {
	sc := bufio.NewScanner(strings.NewReader(run(c, clients, h, "esxcfg-route -l")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "192.168.5.2" && f[1] == "255.255.255.255" {
			return f[2]
		}
	}
	return ""
}
