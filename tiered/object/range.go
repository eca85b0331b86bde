package object

import "fmt"

// ByteRange is one HTTP byte range: [Start, End] inclusive, [Start, ∞) when End < 0, or the
// last Suffix bytes when Suffix > 0.
type ByteRange struct {
	Start  int64
	End    int64
	Suffix int64
}

// Bounded returns the range [a, b], both inclusive.
func Bounded(a, b int64) ByteRange { return ByteRange{Start: a, End: b} }

// From returns the range [a, ∞).
func From(a int64) ByteRange { return ByteRange{Start: a, End: -1} }

// Last returns the final n bytes.
func Last(n int64) ByteRange { return ByteRange{Suffix: n} }

// ContentRange is a resolved range of an object of Total bytes: [Start, End] inclusive.
type ContentRange struct {
	Start, End, Total int64
}

// Len returns the number of bytes in the range.
func (c ContentRange) Len() int64 { return c.End - c.Start + 1 }

// String renders the Content-Range header value, "bytes S-E/T".
func (c ContentRange) String() string { return fmt.Sprintf("bytes %d-%d/%d", c.Start, c.End, c.Total) }

// Validate reports a range that no object can satisfy because it is malformed: a negative
// start or suffix, or an end before its start. Such a range is ErrInvalidArgument, not
// ErrRangeNotSatisfiable (which depends on the object's size).
func (r ByteRange) Validate() error {
	switch {
	case r.Suffix < 0:
		return Invalidf("negative suffix length %d", r.Suffix)
	case r.Suffix > 0:
		return nil
	case r.Start < 0:
		return Invalidf("negative range start %d", r.Start)
	case r.End >= 0 && r.End < r.Start:
		return Invalidf("range end %d is before its start %d", r.End, r.Start)
	}
	return nil
}

// Resolve resolves r against an object of total bytes. It fails with *RangeError when the
// range is unsatisfiable: total is 0, or the start lies at or beyond the end.
func (r ByteRange) Resolve(total int64) (ContentRange, error) {
	if total <= 0 {
		return ContentRange{}, &RangeError{Total: total}
	}
	if r.Suffix > 0 {
		return ContentRange{Start: max(0, total-r.Suffix), End: total - 1, Total: total}, nil
	}
	if r.Start >= total || r.Start < 0 {
		return ContentRange{}, &RangeError{Total: total}
	}
	end := total - 1
	if r.End >= 0 {
		end = min(r.End, total-1)
	}
	return ContentRange{Start: r.Start, End: end, Total: total}, nil
}
