package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCommandLineConventions checks the habits of promtool, opa and
// litestream: --version, help CMD, and -h on every command and
// subcommand answering on standard output with exit 0.
func TestCommandLineConventions(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--version"}, "goodturn "},
		{[]string{"help"}, "Commands:"},
		{[]string{"help", "run"}, "-dry-run"},
		{[]string{"run", "-h"}, "-dry-run"},
		{[]string{"suppress", "-h"}, "Usage: goodturn suppress <command>"},
		{[]string{"help", "review", "approve"}, "-as"},
		{[]string{"runs", "show", "-h"}, "-max-error-share"},
		{[]string{"suppress", "add", "--help"}, "-reason"},
		{[]string{"review", "-h"}, "  approve "},
		{[]string{"user", "add", "-h"}, "-role"},
		{[]string{"completion", "fish"}, "complete -c goodturn"},
		{[]string{"completion", "-h"}, "goodturn completion bash|zsh|fish"},
	} {
		code, out, errOut := run(t, tt.args...)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("goodturn %s: exit %d, stdout lacks %q:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.want, out, errOut)
		}
	}
	if code, _, _ := run(t, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}

// TestCompletionScriptsParse checks that the bash completion script is
// valid bash.
func TestCompletionScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, out, _ := run(t, "completion", "bash")
	cmd := exec.Command(bash, "-n")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, b)
	}
}

func TestProgressLine(t *testing.T) {
	for _, tt := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{1200, 3000, 2 * time.Second, "1,200 of 3,000 customers (40%), about 3s left"},
		{3000, 3000, 5 * time.Second, "3,000 of 3,000 customers (100%)"},
		{0, 3000, time.Second, "0 of 3,000 customers (0%)"},
		{500, 0, time.Second, "500 customers evaluated"},
	} {
		if got := progressLine(tt.done, tt.total, tt.elapsed); got != tt.want {
			t.Errorf("progressLine(%d, %d, %v) = %q, want %q", tt.done, tt.total, tt.elapsed, got, tt.want)
		}
	}
}
