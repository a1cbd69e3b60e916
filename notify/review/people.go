package review

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/goodturn/goodturn/engine/database"
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// MinPasswordLength is the fewest characters a password may have.
const MinPasswordLength = 8

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, one
// thread), a 16-byte salt and a 32-byte key.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword hashes a password with argon2id and a random salt, in the
// PHC string format: $argon2id$v=19$m=19456,t=2,p=1$SALT$KEY.
func HashPassword(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports a password too short to use.
func CheckPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Errorf("password too short: at least %d characters", MinPasswordLength)
	}
	return nil
}

// VerifyPassword reports whether password matches a hash HashPassword
// made; a malformed hash is an error. The comparison takes constant time.
func VerifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("verify password: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("verify password: unsupported argon2 version %q", parts[2])
	}
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || t == 0 || p == 0 {
		return false, fmt.Errorf("verify password: bad parameters %q", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("verify password: bad salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errors.New("verify password: bad key")
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a login names no user, so that an
// unknown name takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a password anyone has")
	return h
})

// AddUser creates a user with a role and a password (hashed here), and
// records it in the audit log as done by actor.
func (s *Service) AddUser(ctx context.Context, actor, name, role, password string) (*reviewdb.User, error) {
	if !validName(name) {
		return nil, fmt.Errorf("user name %q: want letters, digits, and . _ - @ (at most 64)", name)
	}
	if !reviewdb.ValidRole(role) {
		return nil, fmt.Errorf("role %q: want %s", role, strings.Join(reviewdb.Roles, ", "))
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &reviewdb.User{Name: name, Role: role, PasswordHash: hash, CreatedAt: s.now()}
	err = s.inTx(ctx, func(q database.Querier) error {
		if err := reviewdb.AddUser(ctx, q, u); err != nil {
			return err
		}
		return s.audit(ctx, q, actor, "user_add", "user "+name, "", map[string]any{"role": role})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetDisabled disables (ending the user's sessions) or enables a user, and
// records it in the audit log.
func (s *Service) SetDisabled(ctx context.Context, actor, name string, disabled bool) error {
	action := "user_enable"
	if disabled {
		action = "user_disable"
	}
	return s.inTx(ctx, func(q database.Querier) error {
		if err := reviewdb.SetUserDisabled(ctx, q, name, disabled); err != nil {
			return err
		}
		return s.audit(ctx, q, actor, action, "user "+name, "", nil)
	})
}

// SetPassword replaces a user's password (ending the user's sessions), and
// records it in the audit log.
func (s *Service) SetPassword(ctx context.Context, actor, name, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(q database.Querier) error {
		if err := reviewdb.SetUserPassword(ctx, q, name, hash); err != nil {
			return err
		}
		return s.audit(ctx, q, actor, "user_password", "user "+name, "", nil)
	})
}

// loginSlots bounds the password checks running at once.
var loginSlots = make(chan struct{}, 2)

// ErrBadLogin is the one answer to a wrong name, a wrong password or a
// disabled user, so that a login page tells an attacker nothing.
var ErrBadLogin = errors.New("wrong name or password")

// Login checks a name and password from a client address (addr; "" when
// unknown) and returns the user, recording a login (or a failed one, with
// the address) in the audit log. A wrong name, a wrong password and a
// disabled user are all ErrBadLogin; so is a name no user can have (a NUL
// byte, not UTF-8). Failed logins are throttled per name and per address
// (AccountThrottle, AddressThrottle): a login that must wait is a
// *ThrottledError, whether or not the user exists, and its password is not
// checked.
func (s *Service) Login(ctx context.Context, name, password, addr string) (*reviewdb.User, error) {
	if CheckText("name", name) != nil {
		// Counted and audited under a name that can be stored.
		name = strings.ReplaceAll(auditName(name), "\x00", "?")
	}
	at, err := s.admit(ctx, name, addr)
	if err != nil {
		return nil, err
	}
	u, err := reviewdb.GetUser(ctx, s.DB, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	hash := dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	// Each check costs argon2id's memory: only a few run at once, so a
	// flood of login attempts queues instead of exhausting memory.
	select {
	case loginSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ok, verr := VerifyPassword(hash, password)
	<-loginSlots
	detail := map[string]any{}
	if addr != "" {
		detail["addr"] = auditName(addr)
	}
	if u == nil || u.Disabled || !ok || verr != nil {
		detail["reason"] = "wrong password"
		switch {
		case u == nil:
			detail["reason"] = "unknown user"
		case u.Disabled:
			detail["reason"] = "disabled"
		}
		name = auditName(name)
		err := s.inTx(ctx, func(q database.Querier) error {
			if err := s.audit(ctx, q, name, "login_failed", "user "+name, "", detail); err != nil {
				return err
			}
			now := s.now()
			for key, until := range at.locked(now) {
				d := map[string]any{"until": until.Format(time.RFC3339)}
				if addr != "" {
					d["addr"] = detail["addr"]
				}
				if err := s.audit(ctx, q, name, "login_locked", strings.Replace(key, "addr ", "address ", 1), "", d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return nil, ErrBadLogin
	}
	err = s.inTx(ctx, func(q database.Querier) error {
		if err := at.succeeded(ctx, q); err != nil {
			return err
		}
		return s.audit(ctx, q, u.Name, "login", "user "+u.Name, "", detail)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DefaultSessionTTL is how long a login lasts.
const DefaultSessionTTL = 12 * time.Hour

// StartSession opens a session for a user that lasts ttl (DefaultSessionTTL
// when 0) and returns its token, for a cookie. Only the token's SHA-256 is
// stored.
func (s *Service) StartSession(ctx context.Context, u *reviewdb.User, ttl time.Duration) (token string, expires time.Time, err error) {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, fmt.Errorf("start session: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	expires = now.Add(ttl)
	if err := reviewdb.CreateSession(ctx, s.DB, reviewdb.Session{TokenHash: tokenHash(token), UserID: u.ID, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// SessionUser returns the user of a session token that has not expired,
// or an error wrapping store.ErrNotFound.
func (s *Service) SessionUser(ctx context.Context, token string) (*reviewdb.User, error) {
	if token == "" {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return reviewdb.SessionUser(ctx, s.DB, tokenHash(token), s.now())
}

// EndSession ends a session (logout).
func (s *Service) EndSession(ctx context.Context, token string) error {
	return reviewdb.DeleteSession(ctx, s.DB, tokenHash(token))
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Decider returns the user named name if that user may approve and reject:
// it exists, is not disabled, and is a reviewer or an admin. The command
// line's --as uses it.
func (s *Service) Decider(ctx context.Context, name string) (*reviewdb.User, error) {
	if err := CheckText("user name", name); err != nil {
		return nil, err
	}
	u, err := reviewdb.GetUser(ctx, s.DB, name)
	if err != nil {
		return nil, err
	}
	if err := canDecide(u); err != nil {
		return nil, err
	}
	return u, nil
}

func canDecide(u *reviewdb.User) error {
	if u == nil {
		return fmt.Errorf("%w: no user", ErrForbidden)
	}
	if u.Disabled {
		return fmt.Errorf("%w: user %s is disabled", ErrForbidden, u.Name)
	}
	if !u.CanDecide() {
		return fmt.Errorf("%w: %s is a %s; only reviewers and admins may approve or reject", ErrForbidden, u.Name, u.Role)
	}
	return nil
}

func validName(name string) bool {
	if name == "" || len(name) > 64 || name == store.SystemActor {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return false
		}
	}
	return true
}

// audit appends an entry to the audit log.
func (s *Service) audit(ctx context.Context, q database.Querier, actor, action, subject, comment string, detail map[string]any) error {
	_, err := s.auditID(ctx, q, actor, action, subject, comment, detail)
	return err
}

// auditID appends an entry to the audit log and returns its id.
func (s *Service) auditID(ctx context.Context, q database.Querier, actor, action, subject, comment string, detail map[string]any) (int64, error) {
	d := json.RawMessage("{}")
	if len(detail) > 0 {
		b, err := json.Marshal(detail)
		if err != nil {
			return 0, fmt.Errorf("audit: %w", err)
		}
		d = b
	}
	e := &store.AuditEntry{At: s.now(), Actor: actor, Action: action, Subject: subject, Comment: comment, Detail: d}
	if err := store.AddAudit(ctx, q, e); err != nil {
		return 0, err
	}
	return e.ID, nil
}
