package main

import (
	"context"
	"fmt"
)

// runMigrate creates or updates goodturn's tables: opening the database the
// way the command declares (needDBWrite) does the work; this reports it.
func runMigrate(ctx context.Context, x *call) error {
	if _, err := x.Parse(); err != nil {
		return err
	}
	db, err := x.DB(ctx)
	if err != nil {
		return err
	}
	if x.schema != "" {
		fmt.Fprintf(x.Stdout, "Created schema %s, which the address's search_path names.\n", x.schema)
	}
	if x.migrated == 0 {
		fmt.Fprintf(x.Stdout, "%s is up to date.\n", db.DSN)
	} else {
		fmt.Fprintf(x.Stdout, "Applied %d migration(s) to %s.\n", x.migrated, db.DSN)
	}
	return nil
}
