package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a failure so callers can react (retry, report, ask for a fix) without parsing
// messages. Kinds are errors themselves: errors.Is(err, engine.ErrWrongPassword).
type Kind string

func (k Kind) Error() string { return string(k) }

// The kinds of failure the engine tells apart.
const (
	ErrRepositoryNotFound Kind = "repository does not exist"
	ErrRepositoryExists   Kind = "a different repository exists there"
	ErrWrongPassword      Kind = "wrong password"
	ErrLocked             Kind = "repository is locked"
	ErrBucketNotFound     Kind = "bucket does not exist"
	ErrAccessDenied       Kind = "access denied"
	ErrUnreachable        Kind = "backend unreachable"
	ErrSnapshotNotFound   Kind = "snapshot not found"
	ErrIncomplete         Kind = "some files could not be read"
	ErrSourceFailed       Kind = "the data source failed"
	ErrTargetFailed       Kind = "the restore target failed"
	ErrIntegrity          Kind = "repository damaged"
	ErrInvalidArgument    Kind = "invalid argument"
	ErrCanceled           Kind = "canceled"
	ErrFailed             Kind = "failed"
)

// Error is a failed engine operation. Message keeps restic's own words, so the person reading a
// status or an Event sees what restic saw.
type Error struct {
	// Op is the operation: init, backup, restore, snapshots, forget, prune, check, unlock, stats.
	Op   string
	Kind Kind
	// ExitCode is restic's exit status, -1 when it did not exit normally.
	ExitCode int
	// Message is restic's message, without its "Fatal: " prefixes.
	Message string
	// Err is the underlying error, if any (a failing source reader, a failed start).
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = string(e.Kind)
	}
	return fmt.Sprintf("restic %s: %s", e.Op, msg)
}

// Is matches the error's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf is the Kind of an engine error, ErrFailed for any other non-nil error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if k, ok := err.(Kind); ok {
		return k
	}
	if err == nil {
		return ""
	}
	return ErrFailed
}

// restic's documented exit codes (restic ≥ 0.17).
const (
	exitFatal        = 1
	exitIncomplete   = 3
	exitNoRepository = 10
	exitLockFailed   = 11
	exitWrongPass    = 12
	exitInterrupted  = 130
)

// classify maps restic's exit code and message to a Kind. Exit codes decide where restic gives
// one; backend failures all exit 1, so their messages (from the S3, GCS and Azure clients and Go's
// net package) decide the rest.
func classify(code int, message string) Kind {
	switch code {
	case exitIncomplete:
		return ErrIncomplete
	case exitNoRepository:
		return ErrRepositoryNotFound
	case exitLockFailed:
		return ErrLocked
	case exitWrongPass:
		return ErrWrongPassword
	case exitInterrupted:
		return ErrCanceled
	}
	m := strings.ToLower(message)
	switch {
	case containsAny(m, "nosuchbucket", "bucket does not exist", "specified bucket does not exist",
		"containernotfound", "container does not exist", "bucket doesn't exist"):
		return ErrBucketNotFound
	case containsAny(m, "access denied", "accessdenied", "invalidaccesskeyid", "signaturedoesnotmatch",
		"authenticationfailed", "authorizationfailure", "403 forbidden", "permission denied", "unauthorized"):
		return ErrAccessDenied
	case containsAny(m, "connection refused", "no such host", "i/o timeout", "network is unreachable",
		"connection reset", "tls: ", "x509: ", "context deadline exceeded"):
		return ErrUnreachable
	case containsAny(m, "no matching id found", "no snapshot found", "snapshot not found"):
		return ErrSnapshotNotFound
	case containsAny(m, "config file already exists", "repository master key and config already initialized"):
		return ErrRepositoryExists
	case containsAny(m, "repository is already locked", "unable to create lock"):
		return ErrLocked
	case containsAny(m, "does not exist") && containsAny(m, "config"):
		return ErrRepositoryNotFound
	case containsAny(m, "command failed"):
		return ErrSourceFailed
	}
	return ErrFailed
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// cleanMessage strips restic's repeated "Fatal: " prefixes and trailing whitespace.
func cleanMessage(m string) string {
	m = strings.TrimSpace(m)
	for strings.HasPrefix(m, "Fatal: ") {
		m = strings.TrimPrefix(m, "Fatal: ")
	}
	return m
}
