package rules_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/goodturn/goodturn/rules"
)

// TestLoadFS checks that a ruleset loads the same from an fs.FS as from
// its folder, templates included.
func TestLoadFS(t *testing.T) {
	fromDir, err := rules.Load("../rulesets/mobile")
	if err != nil {
		t.Fatal(err)
	}
	fromFS, err := rules.LoadFS(os.DirFS("../rulesets"), "mobile")
	if err != nil {
		t.Fatal(err)
	}
	if fromFS.Name != "mobile" || len(fromFS.Rules) != len(fromDir.Rules) {
		t.Fatalf("LoadFS: ruleset %q with %d rules, want mobile with %d", fromFS.Name, len(fromFS.Rules), len(fromDir.Rules))
	}
	for i, r := range fromFS.Rules {
		d := fromDir.Rules[i]
		if r.ID != d.ID || r.Version != d.Version {
			t.Errorf("rule %d: %s@%s from the FS, %s@%s from the folder", i, r.ID, r.Version, d.ID, d.Version)
		}
		got, err := r.ReadTemplate()
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		want, err := d.ReadTemplate()
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: template differs", r.ID)
		}
	}
}

func TestLoadAllFS(t *testing.T) {
	rule := "rules:\n  - id: x\n    name: X\n    description: x\n    owner: o\n    kind: other\n    cooldown: 1d\n    when: true\n    value: 1\n    message:\n      template: x\n      channels: [email]\n"
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    int
		wantErr string
	}{
		{"one ruleset", fstest.MapFS{"a/x.yaml": {Data: []byte(rule)}, "a/x.tmpl": {Data: []byte("t")}, "a/x_test.yaml": {Data: []byte("not rules")}}, 1, ""},
		{"missing template", fstest.MapFS{"a/x.yaml": {Data: []byte(rule)}}, 0, `unknown template "x"`},
		{"no rulesets", fstest.MapFS{"a/readme.txt": {Data: []byte("")}}, 0, "no ruleset folders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sets, err := rules.LoadAllFS(tt.fsys, ".")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sets) != tt.want {
				t.Fatalf("%d rulesets, want %d", len(sets), tt.want)
			}
		})
	}
}
