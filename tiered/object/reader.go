package object

import "io"

// Reader is an open object: its metadata, the resolved range when one was requested, and the
// body. The caller must close Body.
type Reader struct {
	Metadata Metadata
	// Range is the resolved range when the read asked for one, nil for a full read.
	Range *ContentRange
	Body  io.ReadCloser
}
