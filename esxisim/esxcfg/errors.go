package esxcfg

import (
	"errors"
	"fmt"

	"github.com/autopathlab/autopathlab/fabric"
)

// Error rendering. No capture of an esxcfg-route, esxcfg-vmknic or
// esxcfg-vswitch failure exists (reference §1.6, §3.3, §10), so the wording
// is INFERRED, in three families, each a single line on stderr with exit
// status 1 and no change to the model:
//
//   - Bad flags: glibc getopt_long's own messages (getopt.go), e.g.
//     "esxcfg-route: invalid option -- 'x'".
//   - Bad operands, caught before the VMkernel is asked:
//     "Error: <what is wrong>", e.g. "Error: Invalid netmask '255.0.255.0'".
//   - Refusals from the VMkernel: the sysinfo template the sibling tool
//     esxcfg-nas prints (VERIFIED, reference §5.3), quirks included (two
//     spaces after "operation.", ".:" and no space before "See"):
//     "Unable to add static route 10.0.0.0/8 to VMkernel: Unable to complete
//     Sysinfo operation.  Please see the VMkernel log file for more
//     details.: Sysinfo error: Network unreachableSee VMkernel log for
//     details."
//     The status strings are the VMkernel's (reference §0.3).
//
// Errors go to stderr so that stdout stays parseable for scripts that only
// read it; a caller that merges the streams sees the same line.

// exitFailure is the status of every failed esxcfg command.
const exitFailure = 1

// sysinfoError renders a VMkernel refusal of the operation described by
// context ("Unable to add static route 10.0.0.0/8 to VMkernel").
func sysinfoError(context string, err error) string {
	return fmt.Sprintf("%s: Unable to complete Sysinfo operation.  Please see the VMkernel log file for more details.: Sysinfo error: %sSee VMkernel log for details.",
		context, vmkStatus(err))
}

// vmkStatus maps a model error to the VMkernel status string ESXi prints.
// The fabric speaks BSD strerror ("Network is unreachable", what vmkping
// shows); the sysinfo layer speaks VMK_ReturnStatus names.
func vmkStatus(err error) string {
	switch {
	case errors.Is(err, fabric.ErrNetUnreachable):
		return "Network unreachable"
	case errors.Is(err, fabric.ErrExists):
		return "Already exists"
	case errors.Is(err, fabric.ErrNotFound):
		return "Not found"
	}
	return err.Error()
}

// usageError is an operand problem found before the VMkernel is asked.
type usageError string

func (e usageError) Error() string { return "Error: " + string(e) }

func errorf(format string, args ...any) error {
	return usageError(fmt.Sprintf(format, args...))
}

// quote renders an operand for an error message on one line, whatever
// bytes it holds.
func quote(s string) string { return "'" + printableString(s) + "'" }
