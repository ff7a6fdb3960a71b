package esxisim

import "github.com/autopathlab/autopathlab/sshd"

// Event is one thing that happened on the host's SSH server, for the lab's
// event log; Host is the host's name at the time. The SSH server is package
// sshd's, and so is its event.
type Event = sshd.Event

// Event kinds reported to Config.OnEvent.
const (
	EventLogin       = sshd.EventLogin
	EventLoginFailed = sshd.EventLoginFailed
	EventCommand     = sshd.EventCommand
	EventLogout      = sshd.EventLogout
	// EventPanic reports a panic recovered in a connection or session; it
	// ended with an error, the server kept running.
	EventPanic = sshd.EventPanic
)
