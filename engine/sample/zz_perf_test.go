package sample

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database/dbtest"
)

func TestZZPerf(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PERF_N"))
	if n == 0 {
		t.Skip()
	}
	db := dbtest.MustOpenSQLite(t)
	if os.Getenv("PERF_PG") != "" {
		db = dbtest.MustOpenPostgres(t)
	}
	generate(t, db, Options{Customers: 0, Now: testNow})
	db.Exec("DELETE FROM plan_allowances"); db.Exec("DELETE FROM plans")
	done := make(chan bool)
	var peak uint64
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	start := time.Now()
	st, err := Generate(context.Background(), db, Options{Customers: n, Seed: 1, Now: testNow})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v in %v, peak heap %d MB", st, time.Since(start), peak>>20)
}
