package rules

import (
	"os"
	"testing"
)

func TestScratchProbe(t *testing.T) {
	for _, f := range []string{"/tmp/probe/b.yaml"} {
		b, _ := os.ReadFile(f)
		_, err := Compile("x", "testdata", map[string][]byte{f: b}, nil)
		t.Logf("=== %s\n%v", f, err)
	}
}
