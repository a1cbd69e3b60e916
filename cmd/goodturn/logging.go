package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// logSettings are the --log-format and --log-level every command takes.
type logSettings struct {
	// json writes JSON lines instead of logfmt text.
	json bool
	// level is the lowest level logged; nil means the default: info, or
	// warn on a terminal, where the commands print their own progress.
	level *slog.Level
}

// logLevels are the names --log-level takes.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// bindLogFlags adds --log-format and --log-level to a command's flags.
// Setting either rebuilds env.Logger, so that once the flags are parsed the
// command logs as they say.
func bindLogFlags(env *Env, fs *flag.FlagSet) {
	fs.Var(&logFormatFlag{env}, "log-format", "how log lines are written: text (logfmt) or json (GOODTURN_LOG_FORMAT)")
	fs.Var(&logLevelFlag{env}, "log-level", "the lowest level logged: debug, info, warn or error; info by default, warn on a terminal (GOODTURN_LOG_LEVEL)")
}

type logFormatFlag struct{ env *Env }

func (f *logFormatFlag) String() string {
	if f == nil || f.env == nil || !f.env.log.json {
		return "text"
	}
	return "json"
}

func (f *logFormatFlag) Set(s string) error {
	switch s {
	case "text", "json":
		f.env.log.json = s == "json"
		f.env.Logger = newLogger(f.env)
		return nil
	}
	return fmt.Errorf("want text or json")
}

type logLevelFlag struct{ env *Env }

func (f *logLevelFlag) String() string {
	if f == nil || f.env == nil || f.env.log.level == nil {
		return ""
	}
	return strings.ToLower(f.env.log.level.String())
}

func (f *logLevelFlag) Set(s string) error {
	l, ok := logLevels[strings.ToLower(s)]
	if !ok {
		return fmt.Errorf("want debug, info, warn or error")
	}
	f.env.log.level = &l
	f.env.Logger = newLogger(f.env)
	return nil
}

// newLogger returns the logger the log flags describe, writing to
// env.Stderr.
func newLogger(env *Env) *slog.Logger {
	level := slog.LevelInfo
	if env.Interactive {
		// On a terminal the commands print their own progress and results.
		level = slog.LevelWarn
	}
	return env.logger(level)
}

// logger returns a logger with the log flags' format and level, or level
// when --log-level was not given.
func (env *Env) logger(level slog.Level) *slog.Logger {
	if env.log.level != nil {
		level = *env.log.level
	}
	opts := &slog.HandlerOptions{Level: level}
	if env.log.json {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts))
}

// accessLog logs every request at info level once it is answered: the
// method, the path (never the query, nor cookies or form bodies), the
// status, the time taken and the bytes written. Scrapes of /metrics and
// /healthz, which come every few seconds, are logged at debug level.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			level := slog.LevelInfo
			if r.URL.Path == "/metrics" || r.URL.Path == "/healthz" {
				level = slog.LevelDebug
			}
			log.LogAttrs(r.Context(), level, "http request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)), slog.Int64("bytes", rec.bytes))
		}()
		next.ServeHTTP(rec, r)
	})
}

// recordingWriter notes the status and size of an answer.
type recordingWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer
// (flushes, deadlines).
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
