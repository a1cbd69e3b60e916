package rules

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScratchProbe(t *testing.T) {
	fs, _ := filepath.Glob("/tmp/probe/[c-z].yaml")
	for _, f := range fs {
		b, _ := os.ReadFile(f)
		_, err := Compile("x", "testdata", map[string][]byte{f: b}, nil)
		t.Logf("=== %s\n%v", f, err)
	}
}
