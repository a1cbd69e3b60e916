package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/engine/store"
)

// InsertProposals stores every new proposal and skips those that repeat a
// stored one or one earlier in the same call, alone or inside a caller's
// transaction, and tallies only what it stored.
func TestInsertProposalsSkipsRepeats(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.MustOpenMigrated(t, dsn)
		day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
		r := &store.Run{Ruleset: "mobile", AsOf: day, StartedAt: day.Add(2 * time.Hour)}
		if err := store.CreateRun(ctx, db, r); err != nil {
			t.Fatal(err)
		}
		proposal := func(rule string, customer, value int64, status string) store.Proposal {
			return store.Proposal{RunID: r.ID, Ruleset: "mobile", RuleID: rule, RuleVersion: "v1", CustomerID: customer,
				Kind: "goodwill", Value: value, Currency: "GBP", Offer: json.RawMessage(`{"credit":100}`),
				Evidence: json.RawMessage(`{"values":{"saving":` + strconv.FormatInt(customer, 10) + `}}`),
				Status:   status, AsOf: day, CreatedAt: r.StartedAt}
		}
		insert := func(q database.Querier, ps ...store.Proposal) map[string]store.Tally {
			t.Helper()
			got, err := store.InsertProposals(ctx, q, ps)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}

		// All new: stored as they are, control proposals counted apart.
		got := insert(db, proposal("a", 1, 100, ""), proposal("a", 2, 200, ""), proposal("b", 1, 50, store.ProposalControl))
		want := map[string]store.Tally{"a": {Count: 2, Value: 300}, "b": {Control: 1}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("first insert tallied %+v, want %+v", got, want)
		}
		// Repeats of stored proposals, and a repeat within the call, are
		// skipped; the rest are stored.
		got = insert(db, proposal("a", 2, 999, ""), proposal("a", 3, 300, ""), proposal("a", 3, 301, ""), proposal("b", 1, 50, ""))
		want = map[string]store.Tally{"a": {Count: 1, Value: 300}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("insert with repeats tallied %+v, want %+v", got, want)
		}
		// The same inside a caller's transaction, which stays usable.
		if err := database.InTx(ctx, db, func(tx *database.Tx) error {
			got = insert(tx, proposal("a", 1, 100, ""), proposal("a", 4, 400, ""))
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE proposals SET status = ? WHERE customer_id = ?`), store.ProposalHeld, 4); err != nil {
				return err
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want = map[string]store.Tally{"a": {Count: 1, Value: 400}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("insert in a transaction tallied %+v, want %+v", got, want)
		}

		ps, err := store.ListProposals(ctx, db, store.ProposalFilter{RunID: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			rule             string
			customer, value  int64
			status, evidence string
		}
		var rows []row
		for _, p := range ps {
			rows = append(rows, row{p.RuleID, p.CustomerID, p.Value, p.Status, string(p.Evidence)})
		}
		wantRows := []row{
			{"a", 1, 100, store.ProposalPending, `{"values":{"saving":1}}`},
			{"a", 2, 200, store.ProposalPending, `{"values":{"saving":2}}`},
			{"a", 3, 300, store.ProposalPending, `{"values":{"saving":3}}`},
			{"a", 4, 400, store.ProposalHeld, `{"values":{"saving":4}}`},
			{"b", 1, 50, store.ProposalControl, `{"values":{"saving":1}}`},
		}
		if !reflect.DeepEqual(rows, wantRows) {
			t.Errorf("stored\n%+v\nwant\n%+v", rows, wantRows)
		}
	})
}
