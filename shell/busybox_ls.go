package shell

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// lsCmd is busybox ls: one name per line unless on a terminal, -l in the
// busybox long format.
func lsCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "1aAdlFrCx", false)
	if !ok {
		return 1
	}
	l := &lister{inv: inv, o: o, now: inv.Clock.Now()}
	names := o.args
	if len(names) == 0 {
		names = []string{"."}
	}
	var files []lsEntry
	var dirs []string
	status := 0
	for _, name := range names {
		p := inv.Abs(name)
		fi, err := inv.FS.Lstat(p)
		// A trailing slash resolves a symlink to a directory, even with -l
		// (ls -l /vmfs/volumes/ctr1/ lists the datastore, as on ESXi).
		follow := (!o.has('d') && !o.has('l')) || strings.HasSuffix(name, "/")
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 && follow {
			if target, terr := inv.FS.Stat(p); terr == nil {
				fi = target
			}
		}
		if err != nil {
			errorf(inv, "%s: %s", name, ErrorText(err))
			status = 1
			continue
		}
		if fi.IsDir() && !o.has('d') {
			dirs = append(dirs, name)
			continue
		}
		files = append(files, lsEntry{name: name, path: p, fi: fi, mode: fi.Mode()})
	}
	sortEntries(files, o.has('r'))
	sort.Strings(dirs)
	if o.has('r') {
		sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	}
	l.print(files)
	for i, d := range dirs {
		if ctx.Err() != nil {
			return 130
		}
		if len(names) > 1 {
			if i > 0 || len(files) > 0 {
				fmt.Fprintln(inv.Stdout)
			}
			fmt.Fprintf(inv.Stdout, "%s:\n", d)
		}
		if !l.dir(d) {
			status = 1
		}
	}
	return status
}

type lsEntry struct {
	name string
	path string
	fi   fs.FileInfo // nil unless needed: stat may block on a dead mount
	mode fs.FileMode
}

func sortEntries(ents []lsEntry, reverse bool) {
	sort.SliceStable(ents, func(i, j int) bool {
		if reverse {
			return ents[i].name > ents[j].name
		}
		return ents[i].name < ents[j].name
	})
}

type lister struct {
	inv *Invocation
	o   *opts
	now time.Time
}

func (l *lister) dir(name string) bool {
	p := l.inv.Abs(name)
	ents, err := l.inv.FS.ReadDir(p)
	if err != nil {
		errorf(l.inv, "%s: %s", name, ErrorText(err))
		return false
	}
	var list []lsEntry
	if l.o.has('a') {
		for _, dot := range []string{".", ".."} {
			if fi, err := l.inv.FS.Stat(Clean(p + "/" + dot)); err == nil {
				list = append(list, lsEntry{name: dot, path: p + "/" + dot, fi: fi, mode: fi.Mode()})
			}
		}
	}
	ok := true
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && !l.o.has('a') && !l.o.has('A') {
			continue
		}
		ent := lsEntry{name: e.Name(), path: Clean(p + "/" + e.Name()), mode: e.Type()}
		if l.o.has('l') || l.o.has('F') {
			fi, err := e.Info()
			if err != nil {
				errorf(l.inv, "%s: %s", ent.path, ErrorText(err))
				ok = false
				continue
			}
			ent.fi, ent.mode = fi, fi.Mode()
		}
		list = append(list, ent)
	}
	sortEntries(list, l.o.has('r'))
	if l.o.has('l') {
		var blocks int64
		for _, e := range list {
			blocks += (e.fi.Size() + 1023) / 1024
		}
		fmt.Fprintf(l.inv.Stdout, "total %d\n", blocks)
	}
	l.print(list)
	return ok
}

func (l *lister) print(list []lsEntry) {
	if len(list) == 0 {
		return
	}
	w := l.inv.Stdout
	if l.o.has('l') {
		for _, e := range list {
			fmt.Fprintf(w, "%s %4d %-8s %-8s %9d %s %s%s\n", modeString(e.fi.Mode()), 1, "root", "root",
				e.fi.Size(), lsTime(e.fi.ModTime(), l.now), e.name, l.suffix(e))
		}
		return
	}
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.name + l.suffix(e)
	}
	if !l.inv.TTY || l.o.has('1') {
		for _, n := range names {
			fmt.Fprintln(w, n)
		}
		return
	}
	width := 80
	if c, err := strconv.Atoi(l.inv.Getenv("COLUMNS")); err == nil && c > 0 {
		width = c
	}
	fmt.Fprint(w, columns(names, width))
}

// suffix is -F's type mark, or a long listing's symlink target.
func (l *lister) suffix(e lsEntry) string {
	mode := e.mode
	if l.o.has('l') && mode&fs.ModeSymlink != 0 {
		target, _ := l.inv.FS.Readlink(e.path)
		return " -> " + target
	}
	if !l.o.has('F') {
		return ""
	}
	switch {
	case mode.IsDir():
		return "/"
	case mode&fs.ModeSymlink != 0:
		return "@"
	case mode&0o111 != 0:
		return "*"
	}
	return ""
}

// columns lays names out column by column, as ls does on a terminal.
func columns(names []string, width int) string {
	maxLen := 0
	for _, n := range names {
		maxLen = max(maxLen, len(n))
	}
	colWidth := maxLen + 2
	ncols := max(1, width/colWidth)
	nrows := (len(names) + ncols - 1) / ncols
	var sb strings.Builder
	for r := range nrows {
		for c := range ncols {
			i := c*nrows + r
			if i >= len(names) {
				break
			}
			sb.WriteString(names[i])
			if next := (c+1)*nrows + r; next < len(names) {
				sb.WriteString(strings.Repeat(" ", colWidth-len(names[i])))
			}
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// modeString is ls's mode column, e.g. drwxr-xr-x or lrwxrwxrwx.
func modeString(m fs.FileMode) string {
	var b [10]byte
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		} else {
			b[i+1] = '-'
		}
	}
	if m&fs.ModeSetuid != 0 {
		b[3] = map[bool]byte{true: 's', false: 'S'}[b[3] == 'x']
	}
	if m&fs.ModeSetgid != 0 {
		b[6] = map[bool]byte{true: 's', false: 'S'}[b[6] == 'x']
	}
	if m&fs.ModeSticky != 0 {
		b[9] = map[bool]byte{true: 't', false: 'T'}[b[9] == 'x']
	}
	return string(b[:])
}

// lsTime shows the time of day for recent files and the year for others.
func lsTime(t, now time.Time) string {
	t = t.UTC()
	if d := now.Sub(t); d > 180*24*time.Hour || d < -time.Hour {
		return t.Format("Jan _2  2006")
	}
	return t.Format("Jan _2 15:04")
}
