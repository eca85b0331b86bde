package localbackend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Row record format (value of bucket "rows"; see doc.go).
const (
	rowFormat     = 1
	kindObject    = 1
	kindTombstone = 2
	rowHeaderLen  = 23
)

// errCorrupt reports an undecodable stored record.
var errCorrupt = errors.New("localbackend: corrupt record")

// row is a decoded high-volume row. Its byte slices alias the buffer it was decoded from,
// which for bbolt values is valid only inside the transaction.
type row struct {
	kind    byte
	gen     uint64
	expires time.Time // zero: never
	// object
	md      []byte // metadata JSON
	payload []byte
	// tombstone
	target string // storage path of the long-term revision
	policy []byte // policy JSON (object.MarshalPolicyJSON)
}

// live reports whether the row counts as present at now.
func (r *row) live(now time.Time) bool {
	return r.expires.IsZero() || !r.expires.Before(now)
}

// encodeRow serialises r.
func encodeRow(r *row) []byte {
	n := rowHeaderLen
	switch r.kind {
	case kindObject:
		n += binary.MaxVarintLen64 + len(r.md) + len(r.payload)
	case kindTombstone:
		n += 2*binary.MaxVarintLen64 + len(r.target) + len(r.policy)
	}
	buf := make([]byte, rowHeaderLen, n)
	buf[0] = rowFormat
	buf[1] = r.kind
	binary.BigEndian.PutUint64(buf[2:10], r.gen)
	putTime(buf[10:23], r.expires)
	switch r.kind {
	case kindObject:
		buf = binary.AppendUvarint(buf, uint64(len(r.md)))
		buf = append(buf, r.md...)
		buf = append(buf, r.payload...)
	case kindTombstone:
		buf = binary.AppendUvarint(buf, uint64(len(r.target)))
		buf = append(buf, r.target...)
		buf = binary.AppendUvarint(buf, uint64(len(r.policy)))
		buf = append(buf, r.policy...)
	}
	return buf
}

// decodeRow parses a stored row; the result aliases b.
func decodeRow(b []byte) (row, error) {
	if len(b) < rowHeaderLen || b[0] != rowFormat {
		return row{}, errCorrupt
	}
	r := row{kind: b[1], gen: binary.BigEndian.Uint64(b[2:10]), expires: getTime(b[10:23])}
	rest := b[rowHeaderLen:]
	field := func() ([]byte, error) {
		l, n := binary.Uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) < l {
			return nil, errCorrupt
		}
		f := rest[n : n+int(l)]
		rest = rest[n+int(l):]
		return f, nil
	}
	var err error
	switch r.kind {
	case kindObject:
		if r.md, err = field(); err != nil {
			return row{}, err
		}
		r.payload = rest
	case kindTombstone:
		var t []byte
		if t, err = field(); err != nil {
			return row{}, err
		}
		r.target = string(t)
		if r.policy, err = field(); err != nil {
			return row{}, err
		}
	default:
		return row{}, fmt.Errorf("%w: unknown row kind %d", errCorrupt, r.kind)
	}
	return r, nil
}

// putTime writes t into 13 bytes: a presence flag, Unix seconds and nanoseconds (big
// endian). The zero time is encoded as flag 0.
func putTime(b []byte, t time.Time) {
	clear(b[:13])
	if t.IsZero() {
		return
	}
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:9], uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[9:13], uint32(t.Nanosecond()))
}

// getTime reads putTime's encoding.
func getTime(b []byte) time.Time {
	if b[0] == 0 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), int64(binary.BigEndian.Uint32(b[9:13]))).UTC()
}

// expKey returns the key of the expiry index (bucket "rowexp") for a row at path expiring
// at t: 12 bytes that sort by time (seconds with the sign bit flipped, then nanoseconds),
// followed by the path.
func expKey(t time.Time, path string) []byte {
	k := make([]byte, 12, 12+len(path))
	binary.BigEndian.PutUint64(k[0:8], uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:12], uint32(t.Nanosecond()))
	return append(k, path...)
}

// parseExpKey splits an expiry index key.
func parseExpKey(k []byte) (time.Time, string, bool) {
	if len(k) < 12 {
		return time.Time{}, "", false
	}
	secs := int64(binary.BigEndian.Uint64(k[0:8]) ^ (1 << 63))
	return time.Unix(secs, int64(binary.BigEndian.Uint32(k[8:12]))).UTC(), string(k[12:]), true
}
