package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// needs is what a command needs before it runs. The commands table
// declares it; the shared flags a command takes follow from it, and a
// command can open only the databases, in the mode, it declares.
type needs uint16

const (
	// needDB is goodturn's database as it is (--db): never created or
	// migrated. A database behind this goodturn's migrations is an error.
	needDB needs = 1 << iota
	// needDBWrite is goodturn's database (--db), created when missing and
	// migrated when behind.
	needDBWrite
	// needBilling is the billing database (--billing-db, by default
	// goodturn's own), opened in the mode of goodturn's.
	needBilling
	// needRulesets is the folder of rulesets (--rulesets).
	needRulesets
	// needClock is the clock (--now).
	needClock
	// needMonths is how many months of usage the facts hold (--months).
	needMonths
	// needPolicy is the frequency cap of the contact policy (--cap,
	// --cap-window).
	needPolicy
)

// sharedFlags returns the shared flags the needs bring, for flagSet.
func (n needs) sharedFlags() []string {
	var fs []string
	for _, f := range []struct {
		need needs
		flag string
	}{
		{needDB | needDBWrite | needBilling, flagDB},
		{needBilling, flagBillingDB},
		{needRulesets, flagRulesets},
		{needClock, flagNow},
		{needMonths, flagMonths},
		{needPolicy, flagCap},
	} {
		if n&f.need != 0 {
			fs = append(fs, f.flag)
		}
	}
	return fs
}

// argc is how many positional arguments a command takes.
type argc struct{ min, max int }

var (
	noPositional  = argc{0, 0}
	onePositional = argc{1, 1}
	optPositional = argc{0, 1}
	anyPositional = argc{0, -1}
)

// command is one command of goodturn, or a family of subcommands: a command
// with subs has no run of its own, and runs the sub named def when its
// first argument names none.
type command struct {
	name string
	// summary is the line `goodturn help` prints.
	summary string
	// synopsis is what follows the command's name in its usage line.
	synopsis string
	needs    needs
	args     argc
	// run declares the command's own flags on x.Flags, calls x.Parse, and
	// does the work.
	run  func(ctx context.Context, x *call) error
	subs []*command
	def  string
}

// sub returns the subcommand named name, or nil.
func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// choices names c's subcommands for an error: "list, show or approve".
func (c *command) choices() string {
	names := subNames(c)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// invoke runs c, or the subcommand its arguments name, as `goodturn path`.
func (c *command) invoke(ctx context.Context, env *Env, path string, args []string) error {
	if len(c.subs) == 0 {
		x := &call{Env: env, cmd: c, path: path, args: args}
		x.Flags = x.flagSet(env, path, c.synopsis, c.needs.sharedFlags()...)
		defer x.close()
		return c.run(ctx, x)
	}
	switch {
	case len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		c.usage(env.Stderr, path)
		return flag.ErrHelp
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		if s := c.sub(args[0]); s != nil {
			return s.invoke(ctx, env, path+" "+s.name, args[1:])
		}
		return fmt.Errorf("%w: unknown %s command %q: want %s", errUsage, path, args[0], c.choices())
	}
	for _, a := range args {
		if s := c.sub(a); s != nil {
			return fmt.Errorf("%w: name the command first, flags after it: `goodturn %s %s …`", errUsage, path, s.name)
		}
	}
	if c.def != "" {
		return c.sub(c.def).invoke(ctx, env, path+" "+c.def, args)
	}
	return fmt.Errorf("%w: want %s", errUsage, c.choices())
}

// usage prints a family's subcommands.
func (c *command) usage(w io.Writer, path string) {
	fmt.Fprintf(w, "Usage: goodturn %s <command> [flags]\n\n%s.\n\nCommands:\n", path, upperFirst(c.summary))
	for _, s := range c.subs {
		fmt.Fprintf(w, "  %-9s %s\n", s.name, s.summary)
	}
	if c.def != "" {
		fmt.Fprintf(w, "\n`goodturn %s` alone is `goodturn %s %s`.\n", path, path, c.def)
	}
	fmt.Fprintf(w, "Run `goodturn %s <command> -h` for its flags.\n", path)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// call is one running command: the shared settings its needs brought, its
// flags, its clock and the databases it opened.
type call struct {
	*Env
	config
	// Flags holds the shared flags; the command adds its own before Parse.
	Flags *flag.FlagSet
	// Now is the clock: --now when the command takes it, else the real one.
	Now func() time.Time

	cmd     *command
	path    string
	args    []string
	db, bdb *database.DB
	// migrated is how many migrations opening goodturn's database applied,
	// and schema the search_path schema it created, for migrate to report.
	migrated int
	schema   string
}

// Parse parses the flags and the positional arguments, checks their number
// against the command's declaration, sets the clock, and returns the
// positional arguments.
func (x *call) Parse() ([]string, error) {
	positional, err := parse(x.Flags, x.args)
	if err != nil {
		return nil, err
	}
	a := x.cmd.args
	if len(positional) < a.min || (a.max >= 0 && len(positional) > a.max) {
		if a.max == 0 {
			return nil, noArgs(positional)
		}
		return nil, fmt.Errorf("%w: want `goodturn %s %s`", errUsage, x.path, strings.TrimSpace(x.cmd.synopsis))
	}
	x.Now = time.Now
	if x.cmd.needs&needClock != 0 {
		if x.Now, err = x.clock(); err != nil {
			return nil, err
		}
	}
	return positional, nil
}

// errUndeclared is a command opening what its declaration does not name: a
// mistake in goodturn, not in its use.
var errUndeclared = errors.New("the command does not declare this need")

// DB opens goodturn's database the way the command declared: as it is, or
// created and migrated. It opens it once.
func (x *call) DB(ctx context.Context) (*database.DB, error) {
	if x.db != nil {
		return x.db, nil
	}
	var err error
	switch {
	case x.cmd.needs&needDBWrite != 0:
		x.db, x.schema, x.migrated, err = openMigrated(ctx, x.config.db)
	case x.cmd.needs&needDB != 0:
		x.db, err = openCurrent(ctx, x.config.db)
	default:
		err = fmt.Errorf("goodturn %s opens goodturn's database: %w", x.path, errUndeclared)
	}
	return x.db, err
}

// BillingDB opens the billing database: goodturn's own unless --billing-db
// names another, in the mode of goodturn's (the billing relations are the
// business's: opened, never migrated). A command that declares the billing
// data but not goodturn's database opens it as it is.
func (x *call) BillingDB(ctx context.Context) (*database.DB, error) {
	if x.cmd.needs&needBilling == 0 {
		return nil, fmt.Errorf("goodturn %s opens the billing database: %w", x.path, errUndeclared)
	}
	if x.bdb != nil {
		return x.bdb, nil
	}
	dsn := x.billingDB
	if dsn == "" || dsn == x.config.db {
		if x.cmd.needs&(needDB|needDBWrite) != 0 {
			return x.DB(ctx)
		}
		dsn = x.config.db
	}
	var err error
	if x.cmd.needs&needDBWrite != 0 {
		x.bdb, err = database.Open(ctx, dsn)
	} else {
		x.bdb, err = database.OpenExisting(ctx, dsn)
	}
	return x.bdb, err
}

// Databases opens goodturn's database and the billing database.
func (x *call) Databases(ctx context.Context) (db, bdb *database.DB, err error) {
	if db, err = x.DB(ctx); err != nil {
		return nil, nil, err
	}
	if bdb, err = x.BillingDB(ctx); err != nil {
		return nil, nil, err
	}
	return db, bdb, nil
}

// close closes what the call opened. Closing twice closes once.
func (x *call) close() {
	if x.bdb != nil && x.bdb != x.db {
		x.bdb.Close()
	}
	if x.db != nil {
		x.db.Close()
	}
	x.db, x.bdb = nil, nil
}

// openMigrated opens goodturn's database, creating the schema its address's
// search_path names and applying its migrations.
func openMigrated(ctx context.Context, dsn string) (db *database.DB, schema string, migrated int, err error) {
	db, err = database.Open(ctx, dsn)
	if err != nil {
		return nil, "", 0, err
	}
	if schema, err = store.EnsureSchema(ctx, db); err == nil {
		migrated, err = store.Migrate(ctx, db)
	}
	if err != nil {
		db.Close()
		return nil, "", 0, err
	}
	return db, schema, migrated, nil
}

// openCurrent opens goodturn's database for reading: neither created nor
// migrated. A database whose tables are older than this goodturn is an
// error saying to migrate.
func openCurrent(ctx context.Context, dsn string) (*database.DB, error) {
	db, err := database.OpenExisting(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if n, err := store.Pending(ctx, db); err != nil || n > 0 {
		db.Close()
		if err == nil {
			err = fmt.Errorf("%s has %d of goodturn's migrations to apply: run goodturn migrate --db first", db.DSN, n)
		}
		return nil, err
	}
	return db, nil
}
