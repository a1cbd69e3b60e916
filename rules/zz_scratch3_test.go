package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	yaml "go.yaml.in/yaml/v4"
)

func TestScratchYAML(t *testing.T) {
	fs, _ := filepath.Glob("/tmp/probe/[hij]*.yaml")
	fs = append(fs, "testdata/yaml-syntax.bad.yaml")
	for _, f := range fs {
		b, _ := os.ReadFile(f)
		var n yaml.Node
		err := yaml.Unmarshal(b, &n)
		var le *yaml.LoadError
		if errors.As(err, &le) {
			t.Logf("%s: %+v | %v", f, *le, err)
		}
	}
}
