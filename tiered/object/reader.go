package object

import (
	"bytes"
	"io"
)

// Reader is an open object: its metadata, the resolved range when one was requested, and the
// body. The caller must close Body.
type Reader struct {
	Metadata Metadata
	// Range is the resolved range when the read asked for one, nil for a full read.
	Range *ContentRange
	Body  io.ReadCloser
}

// BytesReader is the Body of an object already in memory (an inline object): a
// bytes.Reader whose Close does nothing. It is a named type so that a server can recognise
// a body that cannot fail and write it out in one piece (its WriteTo) instead of through
// io.Copy's 32 KiB intermediate buffer. The bytes it reads must not be modified.
type BytesReader struct {
	bytes.Reader
}

// NewBytesReader returns a BytesReader over b, which it does not copy.
func NewBytesReader(b []byte) *BytesReader {
	r := &BytesReader{}
	r.Reset(b)
	return r
}

// Close does nothing and returns nil.
func (*BytesReader) Close() error { return nil }
