package main

import "testing"

func TestTermSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, £4.50 – fine", "plain text, £4.50 – fine"},
		{"red \x1b[31mALERT\x1b[0m", `red \x1b[31mALERT\x1b[0m`},
		{"title \x1b]0;pwned\x07", `title \x1b]0;pwned\x07`},
		{"two\nlines\r", `two\x0alines\x0d`},
		{"c1 \u009b31m and raw \x9b", `c1 \x9b31m and raw \x9b`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"del \x7f", `del \x7f`},
		{"replacement \uFFFD kept", "replacement \uFFFD kept"},
	}
	for _, tt := range tests {
		if got := termSafe(tt.in); got != tt.want {
			t.Errorf("termSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := termSafeLines("a\n\tb\x1b"); got != "a\n\tb\\x1b" {
		t.Errorf("termSafeLines kept or escaped the wrong characters: %q", got)
	}
}
