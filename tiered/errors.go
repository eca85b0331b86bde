package tiered

import (
	"errors"

	"github.com/stratastore/strata/tiered/object"
)

// Error wraps every error the Store returns with the operation and the object key.
// Use errors.Is with the sentinels of tiered/object to classify it.
type Error struct {
	Op  string
	Key string
	Err error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "tiered: " + e.Op + ": " + e.Err.Error()
	}
	return "tiered: " + e.Op + " " + e.Key + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func wrapErr(op string, id object.ID, err error) error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	return &Error{Op: op, Key: id.StoragePath(), Err: err}
}
