package esxcli

import (
	"errors"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
)

// cliError is an error esxcli prints as "Error: <msg>". With usage set, a
// blank line and the command's usage block follow (VERIFIED shape for the
// type mismatch, §0.3).
type cliError struct {
	msg   string
	usage bool
	// raw prints msg as it is, without "Error: ": the NAS plugin's own
	// messages (VERIFIED duplicate-add text, reference §2.5).
	raw bool
}

func (e *cliError) Error() string { return e.msg }

func usageErr(msg string) error { return &cliError{msg: msg, usage: true} }

func plainErr(msg string) error { return &cliError{msg: msg} }

func rawErr(msg string) error { return &cliError{msg: msg, raw: true} }

// sysinfoErr is a failure reported by the VMkernel, in the sysinfo family
// the puppetlabs captures show (§0.3): "<context>. Sysinfo error: <VMK
// status>See VMkernel log for details." The missing space before "See" is
// the real tools' quirk. The context sentences and the "Error: " prefix are
// INFERRED (no capture of a failing route add exists); the prefix keeps
// every failure recognisable by the one rule scripts use.
func sysinfoErr(context string, err error) error {
	return plainErr(context + ". Sysinfo error: " + vmkStatus(err) + "See VMkernel log for details.")
}

// vmkStatus maps a model error to the VMkernel status string (the
// DEFINE_VMK_ERR table, §0.3). fabric reports an unreachable gateway with
// the BSD text "Network is unreachable"; the VMkernel's own string is
// "Network unreachable".
func vmkStatus(err error) string {
	switch {
	case errors.Is(err, fabric.ErrExists):
		return "Already exists"
	case errors.Is(err, fabric.ErrNotFound), errors.Is(err, vmkernel.ErrNoSuchVmknic),
		errors.Is(err, vmkernel.ErrNoSuchPortgroup), errors.Is(err, vmkernel.ErrNoSuchNetstack):
		return "Not found"
	case errors.Is(err, fabric.ErrNetUnreachable):
		return "Network unreachable"
	case errors.Is(err, vmkernel.ErrBadParameter):
		return "Bad parameter"
	}
	return err.Error()
}
