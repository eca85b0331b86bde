package tiered

import (
	"errors"

	"github.com/stratastore/strata/tiered/driver"
)

// Aliases of the driver's value types, so that users of tiered need not import driver.
type (
	// Scope is one (name, value) pair of an object's namespace.
	Scope = driver.Scope
	// ObjectContext is a usecase plus ordered scopes.
	ObjectContext = driver.ObjectContext
	// ObjectID names one logical object.
	ObjectID = driver.ObjectID
	// Metadata describes an object.
	Metadata = driver.Metadata
	// ExpirationPolicy is manual, TTL or TTI.
	ExpirationPolicy = driver.ExpirationPolicy
	// ByteRange is a requested byte range.
	ByteRange = driver.ByteRange
	// ContentRange is a resolved byte range.
	ContentRange = driver.ContentRange
	// Object is an open object.
	Object = driver.Object
	// Part describes one uploaded multipart part.
	Part = driver.Part
	// PartList is one page of parts.
	PartList = driver.PartList
	// CompletedPart names a part in a complete request.
	CompletedPart = driver.CompletedPart
	// CompleteError is a complete failure reported in a 200 body.
	CompleteError = driver.CompleteError
	// RangeError reports an unsatisfiable range and the object's size.
	RangeError = driver.RangeError
)

// Sentinel errors; see the driver package.
var (
	ErrNotFound            = driver.ErrNotFound
	ErrInvalidArgument     = driver.ErrInvalidArgument
	ErrUnimplemented       = driver.ErrUnimplemented
	ErrConflict            = driver.ErrConflict
	ErrRangeNotSatisfiable = driver.ErrRangeNotSatisfiable
	ErrTooLarge            = driver.ErrTooLarge
	ErrUnavailable         = driver.ErrUnavailable
)

// Error wraps every error the Store returns with the operation and the object key.
// Use errors.Is with the sentinels to classify it.
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

func wrapErr(op string, id ObjectID, err error) error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	return &Error{Op: op, Key: id.StoragePath(), Err: err}
}
