package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

// TestCustomerShardsBalanceSparseIDs: 90 customers with small ids and 10
// with ids near a million split into four shards of 25 customers, where
// equal slices of the id range would give one shard 90.
func TestCustomerShardsBalanceSparseIDs(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := database.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `CREATE TABLE customers (id BIGINT)`); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := int64(1); i <= 90; i++ {
			ids = append(ids, i)
		}
		for i := int64(0); i < 10; i++ {
			ids = append(ids, 1_000_000+i)
		}
		ids = append(ids, 50) // a duplicated id stays in one shard
		for _, id := range ids {
			if _, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO customers VALUES (%d)`, id)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			shards int
			want   []int // customers rows per shard
		}{
			{1, []int{101}},
			{4, []int{26, 25, 25, 25}},
			{3, []int{34, 34, 33}},
		} {
			ranges, err := store.CustomerShards(ctx, db, tc.shards)
			if err != nil {
				t.Fatal(err)
			}
			if len(ranges) != tc.shards || ranges[0][0] != 1 || ranges[len(ranges)-1][1] != 1_000_010 {
				t.Fatalf("%d shards: %v", tc.shards, ranges)
			}
			var got []int
			for i, r := range ranges {
				if i > 0 && r[0] != ranges[i-1][1] {
					t.Errorf("%d shards: %v leave a gap", tc.shards, ranges)
				}
				n := 0
				for _, id := range ids {
					if id >= r[0] && id < r[1] {
						n++
					}
				}
				got = append(got, n)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%d shards %v hold %v customers, want %v", tc.shards, ranges, got, tc.want)
			}
		}
		// More shards than customers: the extra shards are empty.
		if _, err := db.ExecContext(ctx, `DELETE FROM customers WHERE id > 2`); err != nil {
			t.Fatal(err)
		}
		ranges, err := store.CustomerShards(ctx, db, 4)
		if err != nil || fmt.Sprint(ranges) != "[[1 2] [2 3] [3 3] [3 3]]" {
			t.Errorf("4 shards of 2 customers: %v %v", ranges, err)
		}
	})
}
