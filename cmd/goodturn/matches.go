package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goodturn/goodturn/engine"
)

// matchRow is one customer and rule that matched in a dry run, with what
// the contact policy decided.
type matchRow struct {
	Ruleset  string          `json:"ruleset"`
	Rule     string          `json:"rule"`
	Kind     string          `json:"kind"`
	Customer int64           `json:"customer"`
	Value    int64           `json:"value"`
	Currency string          `json:"currency"`
	Offer    json.RawMessage `json:"offer"`
	Decision string          `json:"decision"`
	Reason   string          `json:"reason,omitempty"`
	Detail   string          `json:"detail,omitempty"`
}

// matchFormat returns the format of --output: --format when given, else the
// file's extension.
func matchFormat(path, format string) (string, error) {
	if format == "" {
		format = strings.TrimPrefix(filepath.Ext(path), ".")
	}
	switch format {
	case "csv", "json":
		return format, nil
	}
	return "", fmt.Errorf("%w: --output %s: give a .csv or .json file, or --format csv|json", errUsage, path)
}

// matchRows lists every match of the runs: the proposals, then the matches
// held back, ordered by ruleset, rule and customer.
func matchRows(results []*engine.Result) []matchRow {
	var rows []matchRow
	for _, res := range results {
		for _, p := range res.Found {
			rows = append(rows, matchRow{Ruleset: p.Ruleset, Rule: p.RuleID, Kind: p.Kind, Customer: p.CustomerID,
				Value: p.Value, Currency: p.Currency, Offer: p.Offer, Decision: "proposed"})
		}
		for _, h := range res.HeldMatches {
			rows = append(rows, matchRow{Ruleset: h.Ruleset, Rule: h.RuleID, Kind: h.Kind, Customer: h.CustomerID,
				Value: h.Value, Currency: h.Currency, Offer: h.Offer, Decision: "held", Reason: h.Reason, Detail: h.Detail})
		}
	}
	sort.SliceStable(rows, func(a, b int) bool {
		x, y := rows[a], rows[b]
		if x.Ruleset != y.Ruleset {
			return x.Ruleset < y.Ruleset
		}
		if x.Rule != y.Rule {
			return x.Rule < y.Rule
		}
		return x.Customer < y.Customer
	})
	return rows
}

// writeMatches writes every match of a dry run to path as CSV or JSON.
func writeMatches(path, format string, results []*engine.Result) (int, error) {
	rows := matchRows(results)
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if format == "json" {
		if rows == nil {
			rows = []matchRow{}
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return 0, err
		}
		return len(rows), f.Close()
	}
	w := csv.NewWriter(f)
	w.Write([]string{"ruleset", "rule", "kind", "customer", "value", "currency", "offer", "decision", "reason", "detail"})
	for _, r := range rows {
		w.Write([]string{r.Ruleset, r.Rule, r.Kind, strconv.FormatInt(r.Customer, 10), strconv.FormatInt(r.Value, 10),
			r.Currency, string(r.Offer), r.Decision, r.Reason, r.Detail})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, err
	}
	return len(rows), f.Close()
}
