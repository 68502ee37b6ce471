package addons_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cofferhq/coffer/addons"
)

// failingReader gives some of a dump, then fails as a restore from a damaged repository does.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("restic: pack 3f2a… is damaged")
	}
	return n, err
}

func TestRunWithInput(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "committed")
	client := func() *exec.Cmd { return exec.Command("sh", "-c", "cat >/dev/null && touch "+marker) }

	// A whole dump: the client reads it to its end and finishes.
	if err := addons.RunWithInput(client(), strings.NewReader("INSERT ...;\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the client did not finish a whole dump: %v", err)
	}
	_ = os.Remove(marker)

	// A dump cut by a read error: the client is killed before its input ends, so it never
	// commits, and the error is the read's.
	err := addons.RunWithInput(client(), &failingReader{r: strings.NewReader("INSERT ...;\nCOPY t FROM stdin;\n1\t")})
	if err == nil || !strings.Contains(err.Error(), "reading the dump: restic: pack 3f2a… is damaged") {
		t.Fatalf("error %v, want the read error", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the client saw the end of its input and committed a cut dump")
	}

	// A client that stops reading and exits 0 has not restored the dump.
	err = addons.RunWithInput(exec.Command("sh", "-c", "head -c 10 >/dev/null"), bytes.NewReader(make([]byte, 4<<20)))
	if err == nil || !strings.Contains(err.Error(), "stopped reading the dump before its end") {
		t.Fatalf("error %v, want the client's early stop", err)
	}

	// A failing client's error carries its stderr.
	err = addons.RunWithInput(exec.Command("sh", "-c", "cat >/dev/null; echo 'ERROR: relation exists' >&2; exit 3"), strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "exit status 3: ERROR: relation exists") {
		t.Fatalf("error %v, want the client's exit status and stderr", err)
	}
}
