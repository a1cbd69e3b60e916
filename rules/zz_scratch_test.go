package rules

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScratchDump(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		_, err := Compile("x", "testdata", map[string][]byte{f: b}, func(n string) bool { return n == "cheaper-plan" })
		t.Logf("=== %s\n%v", f, err)
	}
}
