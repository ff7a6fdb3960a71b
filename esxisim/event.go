package esxisim

import "time"

// Event kinds reported to Config.OnEvent.
const (
	EventLogin       = "ssh.login"
	EventLoginFailed = "ssh.login_failed"
	EventCommand     = "ssh.command"
	EventLogout      = "ssh.logout"
	// EventPanic reports a panic recovered in a session; the session ended
	// with an error, the server kept running.
	EventPanic = "ssh.panic"
)

// Event is one thing that happened on the host's SSH server, for the lab's
// event log. Fields that do not apply to a Kind are zero.
type Event struct {
	Time time.Time
	Kind string
	// Host is the host's name as configured.
	Host string
	User string
	// Source is the client's address, "ip:port".
	Source string
	// Method is the authentication method of a login or failed login:
	// "publickey", "keyboard-interactive" or "password".
	Method string
	// Command is a command line: the exec request's command, or a line
	// typed in an interactive shell.
	Command string
	// Exit is a command's exit status.
	Exit int
	// Error says what went wrong (a failed login, a recovered panic).
	Error string
}

func (h *Host) emit(e Event) {
	if h.cfg.OnEvent == nil {
		return
	}
	e.Time = h.clock.Now()
	e.Host = h.vm.Hostname()
	h.cfg.OnEvent(e)
}

// emitSafe is emit for places where no recover is above: a panicking hook
// loses the event, not the server.
func (h *Host) emitSafe(e Event) {
	defer func() { _ = recover() }()
	h.emit(e)
}
