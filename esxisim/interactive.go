package esxisim

import (
	"context"
	"io"

	"github.com/autopathlab/autopathlab/shell"
)

// interactive runs a login shell on the session's terminal: the MOTD from
// /etc/motd, then the prompt loop. Window changes reach the shell's line
// editor as they come.
func (h *Host) interactive(ctx context.Context, sess *shell.Session, s *sshSession, stdout io.Writer, win Window) int {
	if motd, err := h.fs.ReadFile("/etc/motd"); err == nil {
		_, _ = stdout.Write(motd)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case w := <-s.resized:
				sess.Resize(w.Cols, w.Rows)
			case <-stop:
				return
			}
		}
	}()
	// The line editor writes "\r\n" itself; stdout's onlcr leaves that
	// alone and fixes bare "\n" from commands.
	rw := struct {
		io.Reader
		io.Writer
	}{s.ch, stdout}
	return sess.Interactive(ctx, rw, win.Cols, win.Rows)
}
