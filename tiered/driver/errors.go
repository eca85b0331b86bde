package driver

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every backend. Drivers translate native errors into these at their
// boundary so that callers can use errors.Is without knowing the backend.
var (
	// ErrNotFound means the object, upload or entry does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument means the caller's input is malformed or out of limits.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnimplemented means the backend lacks an optional capability.
	ErrUnimplemented = errors.New("not implemented")
	// ErrConflict means a conditional change lost to a concurrent one (for example a change-log
	// lease that another owner claimed). A lost compare-and-write is not an error: it is false.
	ErrConflict = errors.New("conflict")
	// ErrRangeNotSatisfiable means a byte range lies outside the object; see *RangeError.
	ErrRangeNotSatisfiable = errors.New("range not satisfiable")
	// ErrTooLarge means a payload, part or request exceeds a size limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable marks a transient backend failure worth retrying.
	ErrUnavailable = errors.New("unavailable")
)

// RangeError reports an unsatisfiable range together with the object's total size, which
// HTTP needs for "Content-Range: bytes */total". It matches ErrRangeNotSatisfiable.
type RangeError struct {
	Total int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("range not satisfiable for %d bytes", e.Total)
}

// Is reports whether target is ErrRangeNotSatisfiable.
func (e *RangeError) Is(target error) bool { return target == ErrRangeNotSatisfiable }
