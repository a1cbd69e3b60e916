package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/rules"
)

func TestMeasureSMS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		text     string
		encoding string
		units    int
		segments int
	}{
		{"empty", "", "GSM-7", 0, 0},
		{"short", "Hi Ana, SIM only 1.5GB at £6.00", "GSM-7", 31, 1},
		{"160 GSM-7 fit one", strings.Repeat("a", 160), "GSM-7", 160, 1},
		{"161 GSM-7 take two of 153", strings.Repeat("a", 161), "GSM-7", 161, 2},
		{"306 GSM-7 fit two", strings.Repeat("a", 306), "GSM-7", 306, 2},
		{"the euro takes two septets", strings.Repeat("a", 159) + "€", "GSM-7", 161, 2},
		{"an emoji makes it UCS-2", "Hi 👋", "UCS-2", 5, 1},
		{"70 UCS-2 fit one", strings.Repeat("ł", 70), "UCS-2", 70, 1},
		{"71 UCS-2 take two of 67", strings.Repeat("ł", 71), "UCS-2", 71, 2},
		{"135 UCS-2 take three", strings.Repeat("ł", 135), "UCS-2", 135, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := measureSMS(tc.text)
			if got.Encoding != tc.encoding || got.Units != tc.units || got.Segments != tc.segments {
				t.Errorf("measureSMS = %+v, want %s, %d units, %d segments", got, tc.encoding, tc.units, tc.segments)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name, field, json, want string
	}{
		{"money by the evidence", "price_saving", `1400`, "£14.00"},
		{"money by the facts' fields", "plan.monthly_price", `1000`, "£10.00"},
		{"a number the evidence does not call money", "tenure_years", `1400`, "1,400"},
		{"a count", "months", `3`, "3"},
		{"a large count", "data_mb", `1234567`, "1,234,567"},
		{"the zero date", "contract_ends_on", `"0001-01-01T00:00:00Z"`, "none"},
		{"a date", "contract_ends_on", `"2026-03-01T00:00:00Z"`, "1 Mar 2026"},
		{"a plain date", "month", `"2026-10-01"`, "1 Oct 2026"},
		{"a string", "plan_id", `"sim-6"`, "sim-6"},
		{"true", "saves_every_month", `true`, "yes"},
		{"null", "best", `null`, "none"},
		{"a list of money", "costs", `[600, 750]`, "£6.00, £7.50"},
		{"an empty list", "addon_ids", `[]`, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			d := json.NewDecoder(strings.NewReader(tc.json))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			a := amounts{currency: "GBP", isMoney: rules.EvidenceMoney([]byte(`{"money": ["price_saving"], "values": [{"name": "price_saving"}]}`), nil)}
			if got := describe(tc.field, v, a); got.Value != tc.want {
				t.Errorf("describe(%s, %s) = %q, want %q", tc.field, tc.json, got.Value, tc.want)
			}
		})
	}
}

func TestDescribeListOfObjectsIsATable(t *testing.T) {
	var v any
	d := json.NewDecoder(strings.NewReader(`[{"month": "2026-10-01", "new_cost": 600}, {"month": "2026-09-01", "new_cost": 750}]`))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	f := describe("months", v, amounts{currency: "GBP", isMoney: rules.IsMoneyField})
	if f.Table == nil || strings.Join(f.Table.Cols, "|") != "month|new cost" || len(f.Table.Rows) != 2 ||
		strings.Join(f.Table.Rows[1], "|") != "1 Sep 2026|£7.50" {
		t.Errorf("months as a table: %+v", f.Table)
	}
}

func TestDeciders(t *testing.T) {
	known := map[string]field{
		"min_monthly_saving":            {Label: "min monthly saving", Value: "£14.00"},
		"plan":                          {Label: "plan", Sub: []field{}},
		"subscription.contract_ends_on": {Label: "subscription: contract ends on", Value: "none"},
	}
	for _, tc := range []struct {
		clause string
		want   string
	}{
		{"min_monthly_saving >= 100", "min monthly saving"},
		{`plan.id != "" && min_monthly_saving > 0 && min_monthly_saving < 9`, "plan|min monthly saving"},
		{"subscription.contract_ends_on.IsZero()", "subscription: contract ends on"},
		{"best != nil", ""},
	} {
		var got []string
		for _, f := range deciders(tc.clause, known) {
			got = append(got, f.Label)
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("deciders(%q) = %q, want %q", tc.clause, got, tc.want)
		}
	}
}

func TestSentence(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    store.AuditEntry
		want string
	}{
		{"batch approval", store.AuditEntry{Actor: "ana", Action: "approve", Subject: "batch 3/cheaper-plan", Comment: "checked with billing",
			Detail: json.RawMessage(`{"changed": 48}`)}, "ana approved 48 proposals of 3/cheaper-plan: 'checked with billing'"},
		{"first of two", store.AuditEntry{Actor: "ana", Action: "approve", Subject: "batch 3/cheaper-plan",
			Detail: json.RawMessage(`{"awaiting_second_reviewer": true, "approvals_recorded": 120}`)}, "ana approved 120 proposals of 3/cheaper-plan, first of two reviewers"},
		{"one proposal rejected", store.AuditEntry{Actor: "bea", Action: "reject", Subject: "proposal 12", Detail: json.RawMessage(`{"changed": 1}`)},
			"bea rejected proposal 12"},
		{"one of a batch", store.AuditEntry{Actor: "bea", Action: "reject", Subject: "batch 3/fee", Detail: json.RawMessage(`{"changed": 1}`)},
			"bea rejected 1 proposal of 3/fee"},
		{"expiry", store.AuditEntry{Actor: "system", Action: "expire", Subject: "batch 3/fee", Detail: json.RawMessage(`{"expired": 4, "pending_longer_than": "336h0m0s"}`)},
			"4 proposals of 3/fee expired, pending longer than 336h0m0s"},
		{"failed login", store.AuditEntry{Actor: "eve", Action: "login_failed", Subject: "user eve", Detail: json.RawMessage(`{"reason": "unknown user", "addr": "10.0.0.1"}`)},
			"A login as eve failed: unknown user (from 10.0.0.1)"},
		{"retry", store.AuditEntry{Actor: "bob", Action: "retry", Subject: "message 7", Detail: json.RawMessage(`{}`)}, "bob retried message 7"},
		{"user added", store.AuditEntry{Actor: "bob", Action: "user_add", Subject: "user ana", Detail: json.RawMessage(`{"role": "reviewer"}`)},
			"bob added user ana as reviewer"},
		{"unknown action", store.AuditEntry{Actor: "system", Action: "abandon_run", Subject: "run 9"}, "system: abandon run run 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sentence(tc.e); got != tc.want {
				t.Errorf("sentence = %q, want %q", got, tc.want)
			}
		})
	}
}
