package main

import (
	"context"
	"fmt"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

func runMigrate(ctx context.Context, env *Env, args []string) error {
	var c config
	fs := c.flagSet(env, "migrate", "[--db DSN]", flagDB)
	positional, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(positional); err != nil {
		return err
	}
	db, err := database.Open(ctx, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if schema, err := store.EnsureSchema(ctx, db); err != nil {
		return err
	} else if schema != "" {
		fmt.Fprintf(env.Stdout, "Created schema %s, which the address's search_path names.\n", schema)
	}
	n, err := store.Migrate(ctx, db)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(env.Stdout, "%s is up to date.\n", db.DSN)
	} else {
		fmt.Fprintf(env.Stdout, "Applied %d migration(s) to %s.\n", n, db.DSN)
	}
	return nil
}
