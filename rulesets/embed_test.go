package rulesets_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/goodturn/goodturn/rules"
	"github.com/goodturn/goodturn/rulesets"
)

// TestEmbeddedMatchesFolder checks that every file of the shipped rulesets
// is embedded, byte for byte, and that the embedded rulesets load.
func TestEmbeddedMatchesFolder(t *testing.T) {
	var onDisk []string
	for _, pat := range []string{"schedule.conf", "*/*.yaml", "*/*.tmpl"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		onDisk = append(onDisk, m...)
	}
	if len(onDisk) < 3 {
		t.Fatalf("found only %d shipped files", len(onDisk))
	}
	for _, name := range onDisk {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(rulesets.FS, filepath.ToSlash(name))
		if err != nil {
			t.Errorf("%s is not embedded: %v", name, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("embedded %s differs from the file", name)
		}
	}
	sets, err := rules.LoadAllFS(rulesets.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range sets {
		for _, r := range rs.Rules {
			if _, err := r.ReadTemplate(); err != nil {
				t.Errorf("rule %s: %v", r.ID, err)
			}
		}
	}
}
