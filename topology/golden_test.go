package topology

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden .err files of testdata/bad")

// errLine is the promised format: FILE:LINE:COL: [PATH: ]what is wrong.
var errLine = regexp.MustCompile(`^[a-z0-9-]+\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S.*$`)

// Every bad file is refused with exactly the errors of its .err file,
// all of them, sorted by position.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			top, err := Parse(name, b)
			require.Error(t, err)
			assert.Nil(t, top)
			var errs Errors
			require.ErrorAs(t, err, &errs)
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./topology -run TestBadFiles -update")
			assert.Equal(t, string(want), got)
			for i, e := range errs {
				assert.Regexp(t, errLine, e.Error())
				assert.Equal(t, name, e.File)
				if i > 0 {
					assert.LessOrEqual(t, errs[i-1].Line, e.Line, "sorted by line")
				}
			}
		})
	}
}
