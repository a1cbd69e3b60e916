package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// termSafe makes text from the database (comments, names, errors,
// customer data) safe to print on an operator's terminal: control
// characters (ESC, BEL, newlines, C1 controls), bytes that are not UTF-8
// and the characters that reorder text (U+202E) are written as Go escapes
// (\x1b, \u202e), so that nothing stored can move the cursor, retitle the
// window or hide what it says.
func termSafe(s string) string { return escapeUnsafe(s, "") }

// termSafeLines is termSafe that keeps newlines and tabs: for messages of
// several lines.
func termSafeLines(s string) string { return escapeUnsafe(s, "\n\t") }

// escapeUnsafe writes the unsafe characters of s but those of keep as Go
// escapes.
func escapeUnsafe(s, keep string) string {
	if isTermSafe(s, keep) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strings.ContainsRune(keep, r):
			b.WriteRune(r)
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// isTermSafe reports whether escapeUnsafe would leave s as it is.
func isTermSafe(s, keep string) bool {
	for _, r := range s {
		if (unsafeRune(r) || r == utf8.RuneError) && !strings.ContainsRune(keep, r) {
			return false
		}
	}
	return true
}

// unsafeRune reports a control character or one that changes the
// direction of text.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

// errNUL is the error of a NUL byte in a command line argument.
var errNUL = errors.New("a NUL byte is not allowed")

// refuseNUL refuses a NUL byte in a flag's value or an argument: the
// databases cannot store one (PostgreSQL refuses it in text), and no name
// or comment needs it.
func refuseNUL(fs *flag.FlagSet, positional []string) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && strings.ContainsRune(f.Value.String(), 0) {
			err = fmt.Errorf("%w: --%s: %w", errUsage, f.Name, errNUL)
		}
	})
	if err != nil {
		return err
	}
	for _, a := range positional {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("%w: argument %s: %w", errUsage, termSafe(a), errNUL)
		}
	}
	return nil
}

// safeRows returns the rows of a table with every cell made termSafe.
func safeRows(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, row := range rows {
		out[i] = make([]string, len(row))
		for j, cell := range row {
			out[i][j] = termSafe(cell)
		}
	}
	return out
}
