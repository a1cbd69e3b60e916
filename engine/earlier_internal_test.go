package engine

import (
	"testing"
	"time"
)

// The index of earlier proposals keeps, for each rule and customer, the
// latest day and whether any is pending, and finds exactly those.
func TestEarlierIndex(t *testing.T) {
	day := func(s string) int32 {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return int32(d.Unix() / secondsPerDay)
	}
	x := earlierIndex{
		{customer: 7, slot: 1, day: day("2026-11-20"), pending: true},
		{customer: 3, slot: 0, day: day("2026-10-01")},
		{customer: 7, slot: 1, day: day("2026-11-25")},
		{customer: 7, slot: 0, day: day("2026-09-30")},
		{customer: 3, slot: 0, day: day("2026-11-02")},
	}.merged()
	if len(x) != 3 {
		t.Fatalf("%d entries, want 3: %+v", len(x), x)
	}
	tests := []struct {
		slot     int
		customer int64
		found    bool
		pending  bool
		asOf     string
	}{
		{1, 7, true, true, "2026-11-25"},
		{0, 7, true, false, "2026-09-30"},
		{0, 3, true, false, "2026-11-02"},
		{1, 3, false, false, ""},
		{0, 4, false, false, ""},
		{2, 7, false, false, ""},
	}
	for _, tt := range tests {
		e := x.find(tt.slot, tt.customer)
		if (e != nil) != tt.found {
			t.Errorf("slot %d customer %d: found %v, want %v", tt.slot, tt.customer, e != nil, tt.found)
			continue
		}
		if e != nil && (e.Pending != tt.pending || e.AsOf.Format(time.DateOnly) != tt.asOf || e.AsOf.Location() != time.UTC) {
			t.Errorf("slot %d customer %d: %+v, want pending %v on %s", tt.slot, tt.customer, *e, tt.pending, tt.asOf)
		}
	}
}
