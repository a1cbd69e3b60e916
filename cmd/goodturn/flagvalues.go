package main

import (
	"flag"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// Upper bounds of flags that size a run.
const (
	maxWorkers       = 1024
	maxShards        = 10000
	maxShardAttempts = 100
)

// intFlag is an int flag that refuses values outside [min, max], naming
// the range.
type intFlag struct {
	p        *int
	min, max int
}

// intVar defines an int flag with a default and a valid range.
func intVar(fs *flag.FlagSet, p *int, name string, value, min, max int, usage string) {
	*p = value
	fs.Var(&intFlag{p: p, min: min, max: max}, name, usage)
}

// intIn defines an int flag with a default and a valid range and returns
// where its value is kept.
func intIn(fs *flag.FlagSet, name string, value, min, max int, usage string) *int {
	p := new(int)
	intVar(fs, p, name, value, min, max, usage)
	return p
}

func (f *intFlag) String() string {
	if f == nil || f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max {
		return fmt.Errorf("want %s", rangeText(f.min, f.max))
	}
	*f.p = n
	return nil
}

// rangeText writes a range of whole numbers: "1 to 120", "0 or more".
func rangeText(min, max int) string {
	if max == math.MaxInt {
		return strconv.Itoa(min) + " or more"
	}
	return strconv.Itoa(min) + " to " + strconv.Itoa(max)
}

// ruleDurationFlag is a duration written as rule files write them (7d,
// 2w, 12h) that must be above 0.
type ruleDurationFlag struct{ p *time.Duration }

func (f *ruleDurationFlag) String() string {
	if f == nil || f.p == nil {
		return "0"
	}
	return rulefmt.FormatDuration(*f.p)
}

func (f *ruleDurationFlag) Set(s string) error {
	d, err := rulefmt.ParseDuration(s)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("want a duration above 0, like 7d")
	}
	*f.p = d
	return nil
}

// durationFlag is a Go duration (30s, 10m) within [min, max]; a max of 0
// means no upper bound.
type durationFlag struct {
	p        *time.Duration
	min, max time.Duration
}

// durationIn defines a duration flag with a default and a valid range
// and returns where its value is kept. A positive min reads "above 0";
// min 0 allows 0.
func durationIn(fs *flag.FlagSet, name string, value, min time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = value
	fs.Var(&durationFlag{p: p, min: min}, name, usage)
	return p
}

func (f *durationFlag) String() string {
	if f == nil || f.p == nil {
		return "0s"
	}
	return f.p.String()
}

func (f *durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like 30s or 10m")
	}
	if d < f.min {
		if f.min > 0 {
			return fmt.Errorf("want a duration above 0, like 30s")
		}
		return fmt.Errorf("want 0 or a duration like 30s")
	}
	*f.p = d
	return nil
}

// envName finds the environment variable a flag's usage ends with.
var envName = regexp.MustCompile(`\((GOODTURN_[A-Z0-9_]+)\)$`)

// flagEnvs holds the environment each command's flag set reads
// (Env.Getenv), for setFromEnv.
var flagEnvs sync.Map // *flag.FlagSet → func(string) string

// envOf returns (once) the environment a flag set reads: its command's,
// or none.
func envOf(fs *flag.FlagSet) func(string) string {
	if g, ok := flagEnvs.LoadAndDelete(fs); ok {
		return g.(func(string) string)
	}
	return func(string) string { return "" }
}

// setFromEnv sets every flag of fs whose usage ends with "(GOODTURN_X)"
// from that variable when it is set, so that a bad value in the
// environment fails the same way as the flag would.
func setFromEnv(fs *flag.FlagSet) error {
	getenv := envOf(fs)
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		m := envName.FindStringSubmatch(f.Usage)
		if m == nil || err != nil {
			return
		}
		v := getenv(m[1])
		if v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("%w: %s=%q: %v", errUsage, m[1], v, serr)
		}
	})
	return err
}
