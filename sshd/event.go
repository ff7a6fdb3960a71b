package sshd

import "time"

// Event kinds reported to Config.OnEvent.
const (
	EventLogin       = "ssh.login"
	EventLoginFailed = "ssh.login_failed"
	EventCommand     = "ssh.command"
	EventLogout      = "ssh.logout"
	// EventPanic reports a recovered panic: the connection or session
	// ended with an error, the server kept running.
	EventPanic = "ssh.panic"
	// EventFault reports a hit of a fault (Server.AddFault); Detail is its
	// kind: "refuse", "slow", "drop" or "hang".
	EventFault = "ssh.fault"
)

// Event is one thing that happened on the server, for the lab's event log.
// Fields that do not apply to a Kind are zero.
type Event struct {
	Time time.Time
	Kind string
	// Host is the node's name at the time (Config.Hostname).
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
	// Detail qualifies the kind: a fault's kind for EventFault.
	Detail string
}

// emit reports e. A panicking hook panics here: callers inside a
// connection or session let their recover handle it, as a real daemon's
// logging failure would end that connection only.
func (s *Server) emit(e Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	e.Time = s.cfg.Clock.Now()
	if s.cfg.Hostname != nil {
		e.Host = s.cfg.Hostname()
	}
	s.cfg.OnEvent(e)
}

// emitSafe is emit for places where no recover is above: a panicking hook
// loses the event, not the server.
func (s *Server) emitSafe(e Event) {
	defer func() { _ = recover() }()
	s.emit(e)
}
