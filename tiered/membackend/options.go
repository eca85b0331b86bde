package membackend

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// Name is what every backend of this package reports as its Name.
const Name = "memory"

// Options configures a backend. A nil *Options means the defaults.
type Options struct {
	// Now is the clock that decides expiry, TTI bumps, tombstone deadlines and part
	// timestamps. Default time.Now.
	Now func() time.Time
}

func (o *Options) clock() func() time.Time {
	if o == nil || o.Now == nil {
		return time.Now
	}
	return o.Now
}

// cloneID returns a copy of id that shares no scope slice with it.
func cloneID(id object.ID) object.ID {
	id.Context.Scopes = slices.Clone(id.Context.Scopes)
	return id
}

func cloneIDPtr(id *object.ID) *object.ID {
	if id == nil {
		return nil
	}
	c := cloneID(*id)
	return &c
}

// readAll reads r to the end, failing as soon as ctx is done, so that a cancelled request
// stores nothing even if its body would have ended cleanly. limit < 0 means no limit; with a
// limit, at most limit bytes are read.
func readAll(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	if limit >= 0 {
		r = io.LimitReader(r, limit)
	}
	var buf []byte
	chunk := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if buf == nil {
		buf = []byte{}
	}
	return buf, nil
}
