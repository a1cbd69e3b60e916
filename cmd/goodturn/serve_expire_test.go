package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/database/dbtest"
	"github.com/goodturn/goodturn/notify/review"
)

// TestServeExpiresOverdue: serve's timer is what expires proposals pending
// for too long.
func TestServeExpiresOverdue(t *testing.T) {
	dsn := dbtest.SQLiteDSN(t)
	if code, out, errOut := run(t, "demo", "--db", dsn, "--rulesets", "../../rulesets", "--customers", "100", "--now", "2026-11-23"); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, errOut)
	}
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	late := time.Date(2026, 12, 23, 0, 0, 0, 0, time.UTC)
	sv := &server{log: slog.New(slog.DiscardHandler), expirer: review.New(db, review.Config{Now: func() time.Time { return late }})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	sv.expireOverdue(ctx, 10*time.Millisecond)
	for id, s := range proposalStatuses(t, dsn) {
		if s == "pending" {
			t.Fatalf("proposal %d is still pending after serve's expiry", id)
		}
	}
}
