package database

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://u:secret@db.internal:5432/erp?sslmode=require", "postgres://u:xxxxx@db.internal:5432/erp?sslmode=require"},
		{"postgres://u@db.internal/erp?sslmode=disable&password=secret", "postgres://u@db.internal/erp?sslmode=disable&password=xxxxx"},
		{"postgres://u:secret@db.internal:port/erp", "postgres://u:xxxxx@db.internal:port/erp"},
		{"postgres://u:sec%zzret@db.internal/erp", "postgres://u:xxxxx@db.internal/erp"},
		{"host=db.internal user=u password=secret dbname=erp", "host=db.internal user=u password=xxxxx dbname=erp"},
		{"host=db.internal password = 'se cret' dbname=erp", "host=db.internal password = xxxxx dbname=erp"},
		{"goodturn.db", "goodturn.db"},
		{"postgres://u@db.internal/erp", "postgres://u@db.internal/erp"},
	}
	for _, tt := range tests {
		if got := Redact(tt.dsn); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

// TestOpenNeverPrintsThePassword opens addresses that fail in several
// ways and checks that no error carries the password.
func TestOpenNeverPrintsThePassword(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://u:s3cretpw@127.0.0.1:badport/erp",
		"postgres://u:s3cretpw@127.0.0.1:1/erp?sslmode=disable&connect_timeout=1",
		"postgres://u@127.0.0.1:1/erp?sslmode=disable&connect_timeout=1&password=s3cretpw",
		"postgres://u:s3c%zzretpw@127.0.0.1/erp",
		"host=127.0.0.1 port=1 user=u password=s3cretpw dbname=erp sslmode=disable connect_timeout=1",
		"host=127.0.0.1 port=1 password='s3cretpw' sslmode=bogus",
		"mysql://u:s3cretpw@127.0.0.1/erp",
	} {
		db, err := Open(ctx, dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", Redact(dsn))
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") || strings.Contains(err.Error(), "s3c%zzretpw") {
			t.Errorf("Open's error shows the password: %v", err)
		}
	}
}

func TestOpenRefusesWhatIsNoDatabaseAddress(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	tests := []struct{ dsn, want string }{
		{"mysql://u:pw@127.0.0.1/erp", `unsupported address scheme "mysql"`},
		{"redis://127.0.0.1", `unsupported address scheme "redis"`},
		// A libpq keyword string is PostgreSQL, never an SQLite file.
		{"host=127.0.0.1 port=1 user=u password=pw dbname=erp sslmode=disable connect_timeout=1", "127.0.0.1"},
	}
	for _, tt := range tests {
		db, err := Open(ctx, tt.dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", tt.dsn)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q): %v, want it to say %q", tt.dsn, err, tt.want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) > 0 {
		t.Errorf("Open created files: %v", files)
	}
}

func TestKeywordStringOpensPostgres(t *testing.T) {
	base := os.Getenv("GOODTURN_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL test skipped: set GOODTURN_TEST_POSTGRES to a DSN")
	}
	db, err := Open(context.Background(), "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable")
	if err != nil {
		t.Skipf("PostgreSQL on 127.0.0.1:5432 not reachable as postgres: %v", err)
	}
	defer db.Close()
	if !db.IsPostgres() {
		t.Errorf("a keyword string opened %s", db.Dialect)
	}
}
