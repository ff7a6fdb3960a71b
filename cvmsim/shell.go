package cvmsim

import (
	"io"
	"strings"

	"github.com/autopathlab/autopathlab/shell"
)

// Paths on the CVM.
const (
	HomeDir    = "/home/nutanix"
	GenesisOut = HomeDir + "/data/logs/genesis.out"
	// clusterBin holds the Nutanix tools (cluster, genesis); it is on the
	// nutanix user's PATH.
	clusterBin = HomeDir + "/cluster/bin"
	// userPath is CentOS 7's login PATH plus the Nutanix directories. On
	// CentOS /bin is a symlink to /usr/bin; here busybox lives in /bin
	// itself, so /bin and /sbin end the PATH.
	userPath = "/usr/local/bin:/usr/bin:/usr/local/sbin:/usr/sbin:" + HomeDir + "/.local/bin:" + HomeDir + "/bin:" + clusterBin + ":" + HomeDir + "/prism/cli:/bin:/sbin"
)

// Kernel and OS of the CVM. INFERRED: an AOS 6.x CVM runs CentOS 7 with a
// Nutanix-built el7 kernel; the exact build string was not captured.
const (
	kernelRelease = "3.10.0-1160.108.1.el7.nutanix.20240117.cvm.x86_64"
	kernelVersion = "#1 SMP Wed Jan 17 12:19:37 UTC 2024"
	osRelease     = "CentOS Linux release 7.9.2009 (Core)\n"
)

// layoutFS creates the CVM's filesystem: the nutanix home with
// data/logs/genesis.out (written by Genesis through GenesisLog) and the
// few /etc files the commands' users look at.
func (c *CVM) layoutFS() error {
	f := shell.NewFS(shell.WithClock(c.clock))
	c.fs = f
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc", "/tmp", "/var/log", HomeDir + "/data/logs", clusterBin, HomeDir + "/.ssh"} {
		if err := f.MkdirAll(d); err != nil {
			return err
		}
	}
	files := map[string]string{
		"/etc/hostname":                     c.cfg.Name + "\n",
		"/etc/centos-release":               osRelease,
		"/etc/redhat-release":               osRelease,
		"/etc/hosts":                        "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n",
		GenesisOut:                          "",
		HomeDir + "/data/logs/stargate.out": "",
		HomeDir + "/.ssh/authorized_keys":   "",
	}
	for p, data := range files {
		if err := f.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// GenesisLog returns a writer that appends to
// /home/nutanix/data/logs/genesis.out, where Genesis logs and where
// `tail -f data/logs/genesis.out` follows it. Each Write is appended
// whole, so concurrent writers of whole lines do not interleave.
func (c *CVM) GenesisLog() io.Writer { return fsAppender{c: c, path: GenesisOut} }

type fsAppender struct {
	c    *CVM
	path string
}

func (a fsAppender) Write(p []byte) (int, error) {
	if err := a.c.fs.AppendFile(a.path, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// registerCommands fills the registry: busybox, then the CVM's own
// commands, each a view of the CVM's state.
func (c *CVM) registerCommands() {
	r := shell.NewRegistry()
	c.reg = r
	shell.RegisterBusybox(r)
	r.Register(clusterBin+"/cluster", c.cmdCluster)
	r.Register(clusterBin+"/genesis", c.cmdGenesis)
	r.Register("/usr/sbin/ifconfig", c.cmdIfconfig)
	r.Register("/usr/sbin/route", c.cmdRoute)
	r.Register("/usr/bin/netstat", c.cmdNetstat)
	r.Register("/usr/bin/ping", c.cmdPing)
	r.Register("/usr/sbin/tcpdump", c.cmdTcpdump())
}

// Prompt is bash's prompt on a CVM: nutanix@NTNX-CVM-D:192.168.88.34:~$
// (reference §9.1), the home directory shown as ~.
func (c *CVM) Prompt(user, cwd string) string {
	if cwd == HomeDir {
		cwd = "~"
	} else if strings.HasPrefix(cwd, HomeDir+"/") {
		cwd = "~" + strings.TrimPrefix(cwd, HomeDir)
	}
	sign := "$"
	if user == "root" {
		sign = "#"
	}
	return user + "@" + c.cfg.Name + ":" + c.IP().String() + ":" + cwd + sign + " "
}

// ShellConfig describes a login shell of user on the CVM; env adds to
// (and overrides) the login environment.
func (c *CVM) ShellConfig(user string, env map[string]string) shell.Config {
	home := HomeDir
	if user == "root" {
		home = "/root"
	}
	e := map[string]string{
		"PATH":  userPath,
		"HOME":  home,
		"USER":  user,
		"SHELL": "/bin/bash",
		"LANG":  "en_US.UTF-8",
	}
	for k, v := range env {
		e[k] = v
	}
	return shell.Config{
		FS:       c.fs,
		Commands: c.reg,
		Clock:    c.clock,
		Env:      e,
		Dir:      home,
		Hostname: func() string { return c.cfg.Name },
		Uname: func() shell.Uname {
			return shell.Uname{Sysname: "Linux", Release: kernelRelease, Version: kernelVersion,
				Machine: "x86_64", Processor: "x86_64", Platform: "x86_64", OS: "GNU/Linux"}
		},
		Prompt: func(cwd string) string { return c.Prompt(user, cwd) },
		Name:   "bash",
	}
}

// NewShell starts a shell as the nutanix user, as an SSH login would.
func (c *CVM) NewShell() *shell.Session {
	return shell.NewSession(c.ShellConfig(DefaultUser, nil))
}
