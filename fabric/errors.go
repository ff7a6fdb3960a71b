package fabric

import "errors"

// Errors carry the VMkernel/BSD status strings, so commands can print them
// as the real tools do ("sendto() failed (Host is down)").
var (
	ErrNetUnreachable  = errors.New("Network is unreachable")
	ErrHostUnreachable = errors.New("No route to host")
	ErrHostDown        = errors.New("Host is down")
	ErrNetDown         = errors.New("Network is down")
	ErrMsgSize         = errors.New("Message too long")
	ErrConnRefused     = errors.New("Connection refused")
	ErrConnReset       = errors.New("Connection reset by peer")
	ErrTimeout         = errors.New("Connection timed out")
	ErrAddrInUse       = errors.New("Address already in use")
	ErrPoweredOff      = errors.New("node is powered off")
	ErrClosed          = errors.New("use of closed network connection")
)

// errDetached is what a bridge's end of an in-memory link reads once the
// real connection under it died (bridge.go); no Conn ever returns it.
var errDetached = errors.New("fabric: bridge detached")
