-- Facts about the database itself, such as whether `goodturn demo` made it.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
