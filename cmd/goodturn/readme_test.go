package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeNow is the clock of the README's commands, so that the ids and
// dates they print do not depend on the day the test runs.
const readmeNow = "2026-11-23"

// readmeCommands returns the commands of README.md's ```sh blocks, in
// order, without their comments.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	comment := regexp.MustCompile(`\s+#\s.*$`)
	var cmds []string
	for _, blk := range blocks {
		for _, line := range strings.Split(blk[1], "\n") {
			line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
			if line != "" {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

// TestREADME runs the README's command blocks in order, as a new user
// would from a fresh clone, with a built binary in a temporary folder
// holding a copy of the shipped rulesets. It fails when a command no
// longer works as written. Skipped: `go build`, `go install` and `go test` (the test has
// built the binary and is itself a test), `serve` (it runs until stopped),
// and commands naming a PostgreSQL URL unless GOODTURN_TEST_POSTGRES holds
// one, which then stands in for the README's URL.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the README; skipped with -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "rulesets"), os.DirFS("../../rulesets")); err != nil {
		t.Fatal(err)
	}
	pg := os.Getenv("GOODTURN_TEST_POSTGRES")
	env := append(cleanEnv(), "GOODTURN_NOW="+readmeNow)
	pgURL := regexp.MustCompile(`'postgres://[^']*'`)
	ran := 0
	for _, line := range readmeCommands(t) {
		cmd := line
		switch {
		case strings.HasPrefix(cmd, "go build "), strings.HasPrefix(cmd, "go install "), strings.HasPrefix(cmd, "go test "):
			continue
		case strings.HasPrefix(cmd, "export "):
			env = append(env, strings.TrimPrefix(cmd, "export "))
			continue
		}
		cmd = strings.Replace(cmd, "go run ./cmd/goodturn ", "goodturn ", 1)
		cmd = strings.Replace(cmd, "./goodturn ", "goodturn ", 1)
		if !strings.HasPrefix(cmd, "goodturn ") {
			t.Fatalf("README command %q: neither goodturn nor go build/test; teach this test about it", line)
		}
		if strings.HasPrefix(cmd, "goodturn serve") {
			continue
		}
		if pgURL.MatchString(cmd) {
			if pg == "" {
				t.Logf("skipped (GOODTURN_TEST_POSTGRES is not set): %s", line)
				continue
			}
			cmd = pgURL.ReplaceAllString(cmd, "'"+pg+"'")
		}
		c := exec.Command("sh", "-c", `"$GOODTURN_BIN"`+strings.TrimPrefix(cmd, "goodturn"))
		c.Dir = dir
		c.Env = append(env, "GOODTURN_BIN="+bin)
		if strings.HasPrefix(cmd, "goodturn user add ") {
			c.Stdin = strings.NewReader("correct horse battery\n")
		}
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("README command %q failed: %v\n%s", line, err, out)
		}
		ran++
	}
	if ran < 10 {
		t.Errorf("ran only %d README commands", ran)
	}
}
