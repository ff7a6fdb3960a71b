package esxcfg

import (
	"strings"
	"testing"
)

// fuzzCommand runs random argv through one tool on a fresh host A: it must
// never panic, and a rejection must say why on stderr, fail, and leave the
// model as it was.
func fuzzCommand(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b := hostA(t)
		cmd, _ := b.reg.Command("/sbin/" + name)
		before := snapshot(b.lab.Host)
		out, errs, code := b.exec(cmd, append([]string{name}, strings.Split(line, " ")...))
		if code == 0 {
			return
		}
		if errs == "" {
			t.Fatalf("%q: exit %d with nothing on stderr (stdout %q)", line, code, out)
		}
		if !strings.Contains(errs, " <options> ") && strings.Count(errs, "\n") != 1 {
			t.Fatalf("%q: error is not one line: %q", line, errs)
		}
		if after := snapshot(b.lab.Host); after != before {
			t.Fatalf("%q failed (%q) but changed the model:\n%s\nwas\n%s", line, errs, after, before)
		}
	})
}

func FuzzEsxcfgRoute(f *testing.F) {
	fuzzCommand(f, "esxcfg-route",
		"", "-l", "-n", "-a 192.168.5.2 255.255.255.255 192.168.1.28", "-d 192.168.5.2/32 192.168.1.28",
		"-a default 192.168.1.254", "192.168.1.254", "-N vmotion -l", "--netstack=defaultTcpipStack -a 10.0.0.0/8 192.168.1.1",
		"-f V6 -l", "-a 10.0.0.0 255.0.255.0 192.168.1.1", "--n", "-lN", "-h", "-r", "-d default 192.168.1.1")
}

func FuzzEsxcfgVmknic(f *testing.F) {
	fuzzCommand(f, "esxcfg-vmknic",
		"-l", "-a -i 192.168.5.10 -n 255.255.255.0 svm-iscsi-pg", "-d vmk-svm-iscsi-pg", "-D vmk-svm-iscsi-pg",
		"-e vmk-svm-iscsi-pg", "-i 10.0.0.5 -n 255.255.255.0 vmk-svm-iscsi-pg", "-m 9000 vmk-svm-iscsi-pg",
		"-U vmk-svm-iscsi-pg", "-a -i 1.2.3.4 -n 255.255.255.0 -M 00:50:56:00:00:01 -N vmotion svm-iscsi-pg",
		"-a -i DHCP svm-iscsi-pg", "-p", "-h", "")
}

func FuzzEsxcfgVswitch(f *testing.F) {
	fuzzCommand(f, "esxcfg-vswitch", "-l", "-c vSwitch0", "-C -p svm-iscsi-pg vSwitchNutanix", "-b vSwitch0", "-A pg vSwitch0", "-h", "")
}

func FuzzEsxcfgNics(f *testing.F) {
	fuzzCommand(f, "esxcfg-nics", "-l", "-h", "-s 1000 vmnic0", "")
}
