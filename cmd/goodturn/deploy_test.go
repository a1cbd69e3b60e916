package main

import (
	"bufio"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// workerHelp returns what `goodturn worker -h` prints: its flags and the
// environment variables they read.
func workerHelp(t *testing.T) string {
	t.Helper()
	env, out, errOut := testEnv()
	Main(context.Background(), env, []string{"worker", "-h"})
	help := out.String() + errOut.String()
	if !strings.Contains(help, "-rescue-after") {
		t.Fatalf("worker -h lists no --rescue-after:\n%s", help)
	}
	return help
}

// checkWorkerArgs reports every flag of args that `goodturn worker` does
// not take and every GOODTURN_ variable of vars it does not read.
func checkWorkerArgs(t *testing.T, file string, args, vars []string) {
	t.Helper()
	help := workerHelp(t)
	if len(args) == 0 || args[0] != "worker" {
		t.Errorf("%s: runs %v, want goodturn worker", file, args)
	}
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") || !strings.Contains(help, "\n  -"+name+" ") && !strings.Contains(help, "\n  -"+name+"\n") {
			t.Errorf("%s: %q is not a flag of goodturn worker", file, a)
		}
	}
	for _, v := range vars {
		if !strings.Contains(help, "("+v+")") {
			t.Errorf("%s: goodturn worker does not read %s", file, v)
		}
	}
}

// The systemd unit runs `goodturn worker` with flags it takes, reads its
// addresses from variables it reads, and stops it with a signal it
// finishes its shard on.
func TestDeploySystemdUnit(t *testing.T) {
	f, err := os.Open("../../deploy/goodturn-worker.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			sections[section] = map[string]string{}
		case section != "" && strings.Contains(line, "="):
			k, v, _ := strings.Cut(line, "=")
			sections[section][k] = v
		default:
			t.Errorf("unit line %q is neither a section, a key=value nor a comment", line)
		}
	}
	for _, s := range []string{"Unit", "Service", "Install"} {
		if sections[s] == nil {
			t.Errorf("the unit has no [%s] section", s)
		}
	}
	svc := sections["Service"]
	exec := strings.Fields(svc["ExecStart"])
	if len(exec) < 2 || !strings.HasSuffix(exec[0], "/goodturn") {
		t.Fatalf("ExecStart %q does not run goodturn", svc["ExecStart"])
	}
	var args []string
	for i := 1; i < len(exec); i++ {
		// A flag and its value written apart: --rescue-after 1h.
		if strings.HasPrefix(exec[i], "--") && !strings.Contains(exec[i], "=") && i+1 < len(exec) && !strings.HasPrefix(exec[i+1], "--") {
			args = append(args, exec[i]+"="+exec[i+1])
			i++
			continue
		}
		args = append(args, exec[i])
	}
	checkWorkerArgs(t, "goodturn-worker.service", args, nil)
	if svc["KillSignal"] != "SIGTERM" || svc["Restart"] == "" {
		t.Errorf("KillSignal %q, Restart %q; want SIGTERM and a restart policy", svc["KillSignal"], svc["Restart"])
	}
}

// The Kubernetes Deployment is valid YAML of a Deployment whose container
// runs `goodturn worker` with flags it takes and variables it reads.
func TestDeployKubernetesDeployment(t *testing.T) {
	b, err := os.ReadFile("../../deploy/worker-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Replicas int `yaml:"replicas"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
					Containers                    []struct {
						Name  string   `yaml:"name"`
						Image string   `yaml:"image"`
						Args  []string `yaml:"args"`
						Env   []struct {
							Name string `yaml:"name"`
						} `yaml:"env"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("worker-deployment.yaml: %v", err)
	}
	if d.APIVersion != "apps/v1" || d.Kind != "Deployment" || d.Metadata.Name == "" || d.Spec.Replicas < 1 {
		t.Errorf("not a Deployment: %s %s %q, %d replicas", d.APIVersion, d.Kind, d.Metadata.Name, d.Spec.Replicas)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the selector's %s=%s does not select the pods (%v)", k, v, d.Spec.Template.Metadata.Labels)
		}
	}
	if len(d.Spec.Selector.MatchLabels) == 0 || d.Spec.Template.Spec.TerminationGracePeriodSeconds < 60 {
		t.Errorf("selector %v, grace period %ds", d.Spec.Selector.MatchLabels, d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Image == "" {
		t.Fatalf("containers: %+v", cs)
	}
	var vars []string
	for _, e := range cs[0].Env {
		if !regexp.MustCompile(`^GOODTURN_[A-Z_]+$`).MatchString(e.Name) {
			t.Errorf("env %q is not a GOODTURN_ variable", e.Name)
		}
		vars = append(vars, e.Name)
	}
	checkWorkerArgs(t, "worker-deployment.yaml", cs[0].Args, vars)
}
