// Package rulesets carries the shipped rulesets inside the binary, so that
// an installed goodturn runs its demo from any folder. The rule files, their
// tests and message templates and schedule.conf are embedded as they are in
// this folder.
package rulesets

import (
	"embed"
	"io/fs"
)

//go:embed schedule.conf */*.yaml */*.tmpl
var files embed.FS

// FS holds the shipped ruleset folders at its root ("mobile",
// "uk-best-tariff") and schedule.conf.
var FS fs.FS = files
