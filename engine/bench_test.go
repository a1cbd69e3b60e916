package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/goodturn/goodturn/engine/billing"
	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/rules"
)

// benchCustomers is how many sample customers the hot-path benchmarks use.
const benchCustomers = 2000

var (
	benchOnce  sync.Once
	benchDB    *database.DB
	benchFacts []rules.Facts
	benchSets  []*rules.Ruleset
)

// benchSetup fills an SQLite database with sample customers once and reads
// their facts into memory.
func benchSetup(b *testing.B) {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		// Shared by every benchmark, so not tied to the first one's cleanup;
		// the folder goes when the process ends (the OS cleans /tmp).
		dir, err := os.MkdirTemp("", "goodturn-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDB, err = database.Open(ctx, filepath.Join(dir, "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		eng := mustSetup(b, benchDB, benchCustomers)
		cat, err := eng.Billing.Catalogue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Billing.Read(ctx, billing.Range{}, clock, cat, func(f rules.Facts) error {
			benchFacts = append(benchFacts, f)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		all, err := rules.LoadAll("../rulesets")
		if err != nil {
			b.Fatal(err)
		}
		benchSets = all
	})
	if benchDB == nil {
		b.Skip("setup failed in an earlier benchmark")
	}
}

// BenchmarkFactsAssembly measures reading and assembling one customer's
// facts from SQLite: ns/op is per customer.
func BenchmarkFactsAssembly(b *testing.B) {
	benchSetup(b)
	ctx := context.Background()
	r := &billing.Reader{DB: benchDB}
	cat, err := r.Catalogue(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		st, err := r.Read(ctx, billing.Range{}, clock, cat, func(f rules.Facts) error {
			n++
			if n >= b.N {
				return errEnough
			}
			return nil
		})
		if err != nil && err != errEnough {
			b.Fatal(err)
		}
		_ = st
	}
}

type enough struct{}

func (enough) Error() string { return "enough" }

var errEnough error = enough{}

// BenchmarkRule measures each shipped rule on its own: ns/op is one rule
// evaluated for one customer.
func BenchmarkRule(b *testing.B) {
	benchSetup(b)
	for _, rs := range benchSets {
		for _, r := range rs.Enabled() {
			b.Run(rs.Name+"/"+r.ID, func(b *testing.B) {
				var machine vm.VM
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, err := r.Eval(&machine, benchFacts[i%len(benchFacts)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRulesetPerCustomer measures every shipped rule for one customer:
// ns/op is one customer. "slots" re-rates usage on a Rating, as the
// engine's workers do; "maps" from the plans' maps.
func BenchmarkRulesetPerCustomer(b *testing.B) {
	benchSetup(b)
	var all []*rules.Rule
	for _, rs := range benchSets {
		all = append(all, rs.Enabled()...)
	}
	for _, name := range []string{"maps", "slots"} {
		b.Run(name, func(b *testing.B) {
			var machine vm.VM
			limiter := rules.NewLimiter(context.Background(), rules.DefaultBudget)
			var rating *rules.Rating
			if name == "slots" {
				rating = rules.NewRater(benchFacts[0].Plans).NewRating()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := benchFacts[i%len(benchFacts)]
				f.Limit(limiter) // as the engine's workers do
				f.Rate(rating)
				var env any = f
				for _, r := range all {
					if _, err := r.EvalEnv(&machine, env); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(all)), "rules/customer")
		})
	}
}
