package reviewdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
)

// User roles: a viewer reads, a reviewer also approves and rejects, an
// admin also manages people and retries dead messages.
const (
	RoleViewer   = "viewer"
	RoleReviewer = "reviewer"
	RoleAdmin    = "admin"
)

// Roles lists the roles, least powerful first.
var Roles = []string{RoleViewer, RoleReviewer, RoleAdmin}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

// User is a person who logs in to review proposals.
type User struct {
	ID   int64
	Name string
	Role string
	// PasswordHash is an argon2id hash in the PHC string format (see
	// notify/review.HashPassword); never the password.
	PasswordHash string
	CreatedAt    time.Time
	Disabled     bool
}

// CanDecide reports whether the user may approve or reject proposals.
func (u *User) CanDecide() bool {
	return !u.Disabled && (u.Role == RoleReviewer || u.Role == RoleAdmin)
}

// AddUser stores a new user and sets its ID; a taken name is store.ErrExists.
func AddUser(ctx context.Context, q database.Querier, u *User) error {
	if u.Name == "" {
		return errors.New("add user: a name is required")
	}
	if !ValidRole(u.Role) {
		return fmt.Errorf("add user %s: unknown role %q: want %s", u.Name, u.Role, strings.Join(Roles, ", "))
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	err := q.QueryRowxContext(ctx, q.Rebind(
		`INSERT INTO users (name, role, password_hash, created_at, disabled) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (name) DO NOTHING RETURNING id`),
		u.Name, u.Role, u.PasswordHash, u.CreatedAt.UTC(), u.Disabled).Scan(&u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %s: %w", u.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add user %s: %w", u.Name, err)
	}
	return nil
}

const userColumns = `id, name, role, password_hash, created_at, disabled`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	u := &User{}
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, database.Time(&u.CreatedAt), &u.Disabled)
	return u, err
}

// GetUser returns the user with a name, or store.ErrNotFound.
func GetUser(ctx context.Context, q database.Querier, name string) (*User, error) {
	u, err := scanUser(q.QueryRowxContext(ctx, q.Rebind(`SELECT `+userColumns+` FROM users WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

// GetUserByID returns the user with an id, or store.ErrNotFound.
func GetUserByID(ctx context.Context, q database.Querier, id int64) (*User, error) {
	u, err := scanUser(q.QueryRowxContext(ctx, q.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// ListUsers returns every user, by name.
func ListUsers(ctx context.Context, q database.Querier) ([]User, error) {
	rows, err := q.QueryxContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// SetUserDisabled disables or enables a user; disabling also ends the
// user's sessions. An unknown name is store.ErrNotFound.
func SetUserDisabled(ctx context.Context, q database.Querier, name string, disabled bool) error {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE users SET disabled = ? WHERE name = ?`), disabled, name)
	if err != nil {
		return fmt.Errorf("disable user %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	if disabled {
		if _, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?)`), name); err != nil {
			return fmt.Errorf("disable user %s: end sessions: %w", name, err)
		}
	}
	return nil
}

// SetUserPassword replaces a user's password hash and ends the user's
// sessions. An unknown name is store.ErrNotFound.
func SetUserPassword(ctx context.Context, q database.Querier, name, hash string) error {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE users SET password_hash = ? WHERE name = ?`), hash, name)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	if _, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?)`), name); err != nil {
		return fmt.Errorf("set password of %s: end sessions: %w", name, err)
	}
	return nil
}
