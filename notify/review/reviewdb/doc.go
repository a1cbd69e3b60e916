// Package reviewdb holds the review stage's tables and their SQL, one file
// per entity: people (users.go), their logins (sessions.go) and failed
// logins (throttle.go), second reviewers' approvals (approvals.go), and the
// review's reading and deciding of proposals (batches.go, decisions.go,
// overdue.go), whose rows engine/store writes. Every function takes a
// database.Querier, so that notify/review can put several in one
// transaction. The tables are created by the one set of migrations in
// engine/store/migrations.
package reviewdb
