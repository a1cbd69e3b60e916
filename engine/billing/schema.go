// Package billing reads the billing relations of the facts contract
// (docs/billing-data.md) and assembles each customer's rules.Facts in bulk:
// a handful of ordered, streamed queries merged in Go, never a query per
// customer. It also creates those relations as tables, for the demo and the
// benchmark.
package billing

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/goodturn/goodturn/engine/database"
)

//go:embed schema.sql
var schemaSQL string

// Tables lists the billing relations in the order they are created.
var Tables = []string{"customers", "plans", "plan_allowances", "subscriptions", "addons", "usage", "charges", "events"}

// SchemaSQL returns the DDL of the billing relations for a dialect.
func SchemaSQL(d database.Dialect) string {
	types := map[string]string{"JSON": "TEXT", "Decimal": "TEXT", "Timestamp": "TIMESTAMP"}
	if d == database.Postgres {
		types = map[string]string{"JSON": "JSONB", "Decimal": "NUMERIC(20,6)", "Timestamp": "TIMESTAMPTZ"}
	}
	var b bytes.Buffer
	template.Must(template.New("schema").Parse(schemaSQL)).Execute(&b, types)
	return b.String()
}

// CreateSchema creates the billing relations as tables if they do not exist.
func CreateSchema(ctx context.Context, db *database.DB) error {
	for _, stmt := range strings.Split(SchemaSQL(db.Dialect), ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create billing schema: %w", err)
		}
	}
	return nil
}

// DropSchema drops the billing tables, for a demo that starts afresh.
func DropSchema(ctx context.Context, db *database.DB) error {
	for i := len(Tables) - 1; i >= 0; i-- {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+Tables[i]); err != nil {
			return fmt.Errorf("drop billing schema: %w", err)
		}
	}
	return nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
