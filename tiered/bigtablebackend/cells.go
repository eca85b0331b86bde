package bigtablebackend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Families and qualifiers of the objects table. They are objectstore's, so that a table
// written by either system reads in the other; see doc.go.
const (
	familyTimed  = "fg" // TTL/TTI rows; GC maxage=1s; cell timestamp = expiry deadline
	familyManual = "fm" // manual rows; no GC; cell timestamp = write time

	colPayload  = "p" // object payload
	colMeta     = "m" // object metadata JSON (or a legacy tombstone)
	colRedirect = "r" // tombstone target storage path
	colTombMeta = "t" // tombstone metadata JSON
)

// legacyTombstonePrefix starts the m value of a pre-r/t tombstone, followed by ',' or '}'.
// Like objectstore, only a value where is_redirect_tombstone is the first key counts.
const legacyTombstonePrefix = `{"is_redirect_tombstone":true`

// cellWrite is one SetCell of a row write.
type cellWrite struct {
	Family, Column string
	TS             bigtable.Timestamp
	Value          []byte
}

// rowWrite is a row write: an optional DeleteFromRow, SetCells, and optionally the removal of
// every other version of the cells set. It is the testable, printable form of a
// *bigtable.Mutation.
type rowWrite struct {
	DeleteRow bool
	Cells     []cellWrite
	// OnlyVersion deletes, after the SetCells, every version of each cell's column other than
	// the one just set: timestamps [0, ts) and [ts+1ms, ∞). Unlike DeleteFromColumn before the
	// SetCell, the column never becomes empty, which keeps bttest clear of a data race in its
	// column bookkeeping (row.copy shares colNames with concurrent readers).
	OnlyVersion bool
}

// mutation converts w into the client's mutation type.
func (w rowWrite) mutation() *bigtable.Mutation {
	m := bigtable.NewMutation()
	if w.DeleteRow {
		m.DeleteRow()
	}
	for _, c := range w.Cells {
		m.Set(c.Family, c.Column, c.TS, c.Value)
	}
	if w.OnlyVersion {
		for _, c := range w.Cells {
			if c.TS > 0 {
				m.DeleteTimestampRange(c.Family, c.Column, 0, c.TS)
			}
			m.DeleteTimestampRange(c.Family, c.Column, c.TS+1000, 0)
		}
	}
	return m
}

// String renders w one op per line; golden files use it.
func (w rowWrite) String() string {
	var b bytes.Buffer
	if w.DeleteRow {
		b.WriteString("DeleteFromRow\n")
	}
	for _, c := range w.Cells {
		fmt.Fprintf(&b, "SetCell %s:%s ts=%d (%s) value=%q\n", c.Family, c.Column, int64(c.TS),
			c.TS.Time().UTC().Format(time.RFC3339Nano), c.Value)
	}
	if w.OnlyVersion {
		for _, c := range w.Cells {
			if c.TS > 0 {
				fmt.Fprintf(&b, "DeleteFromColumn %s:%s ts=[0, %d)\n", c.Family, c.Column, int64(c.TS))
			}
			fmt.Fprintf(&b, "DeleteFromColumn %s:%s ts=[%d, ∞)\n", c.Family, c.Column, int64(c.TS)+1000)
		}
	}
	return b.String()
}

// floorTS returns t as a Bigtable timestamp truncated to milliseconds, the only granularity
// real tables accept. It avoids UnixNano, which overflows after the year 2262.
func floorTS(t time.Time) bigtable.Timestamp {
	return bigtable.Timestamp(t.UnixMilli() * 1000)
}

// ceilTS returns t rounded up to the next millisecond, as a Bigtable timestamp.
func ceilTS(t time.Time) bigtable.Timestamp {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return bigtable.Timestamp(ms * 1000)
}

// liveFrom returns the smallest fg cell timestamp that is still live at now. A deadline is
// live while it is not before now; cell timestamps are whole milliseconds, so "ts >= now" is
// "ts >= ceil_ms(now)". Reads and predicates both use it, so they always agree.
func liveFrom(now time.Time) bigtable.Timestamp { return ceilTS(now) }

// familyFor returns the family and cell timestamp for a row whose deadline is expires
// (zero: no deadline, written at now).
func familyFor(expires, now time.Time) (string, bigtable.Timestamp) {
	if expires.IsZero() {
		// An explicit client timestamp instead of ServerTime (-1) keeps MutateRow retryable.
		return familyManual, floorTS(now)
	}
	return familyTimed, floorTS(expires)
}

// objectWrite encodes an inline object. The metadata's size is set to len(payload); rows with
// a deadline go to fg with the deadline as cell timestamp, the rest to fm.
func objectWrite(md object.Metadata, payload []byte, now time.Time) (rowWrite, error) {
	if md.ExpirationPolicy.IsTimeout() && md.TimeExpires.IsZero() {
		return rowWrite{}, object.Invalidf("expiration policy %s requires time_expires", md.ExpirationPolicy)
	}
	md.Size = int64(len(payload))
	mj, err := md.MarshalJSON()
	if err != nil {
		return rowWrite{}, object.Invalidf("encode metadata: %v", err)
	}
	fam, ts := familyFor(md.TimeExpires, now)
	return rowWrite{DeleteRow: true, Cells: []cellWrite{
		{Family: fam, Column: colPayload, TS: ts, Value: payload},
		{Family: fam, Column: colMeta, TS: ts, Value: mj},
	}}, nil
}

// tombstoneMeta is the JSON of the t column: {} for manual, else the policy.
type tombstoneMeta struct {
	ExpirationPolicy json.RawMessage `json:"expiration_policy,omitempty"`
}

// tombstoneWrite encodes a redirect tombstone. Its deadline is now + the policy's duration:
// the tombstone expires with the object.
func tombstoneWrite(t driver.Tombstone, now time.Time) rowWrite {
	tj := []byte(`{}`)
	var expires time.Time
	if t.ExpirationPolicy.IsTimeout() {
		tj = append([]byte(`{"expiration_policy":`), object.MarshalPolicyJSON(t.ExpirationPolicy)...)
		tj = append(tj, '}')
		expires = now.Add(t.ExpirationPolicy.Duration)
	}
	fam, ts := familyFor(expires, now)
	return rowWrite{DeleteRow: true, Cells: []cellWrite{
		{Family: fam, Column: colRedirect, TS: ts, Value: []byte(t.Target.StoragePath())},
		{Family: fam, Column: colTombMeta, TS: ts, Value: tj},
	}}
}

// deleteWrite removes the row.
func deleteWrite() rowWrite { return rowWrite{DeleteRow: true} }

// versionCell identifies the version of a row that was read: the cell its state hangs on (r
// for tombstones, m for objects and legacy tombstones). A conditional TTI bump matches it
// exactly: family, qualifier, timestamp and value.
type versionCell struct {
	Family, Column string
	TS             bigtable.Timestamp
	Value          []byte
}

// rowState is a parsed row.
type rowState struct {
	Entry   driver.Entry
	Version versionCell
	// Legacy marks a tombstone in a legacy format (m with is_redirect_tombstone, or empty r).
	Legacy bool
}

// parseRow decodes a row read from the objects table. Rows whose version cell is in fg with a
// timestamp before now are expired and parse as EntryNotFound, whether or not GC has
// collected them. withPayload says whether the p column was read.
func parseRow(id object.ID, row bigtable.Row, now time.Time, withPayload bool) (rowState, error) {
	var cells [4]*bigtable.ReadItem // p, m, r, t
	var fams [4]string
	for _, fam := range [...]string{familyTimed, familyManual} {
		items := row[fam]
		for i := range items {
			it := &items[i]
			q := it.Column[len(fam)+1:]
			var k int
			switch q {
			case colPayload:
				k = 0
			case colMeta:
				k = 1
			case colRedirect:
				k = 2
			case colTombMeta:
				k = 3
			default:
				continue
			}
			// Keep the newest cell per qualifier; every write deletes the row first, so there
			// is normally exactly one.
			if cells[k] == nil || it.Timestamp > cells[k].Timestamp {
				cells[k], fams[k] = it, fam
			}
		}
	}
	p, m, r, t := cells[0], cells[1], cells[2], cells[3]

	var st rowState
	var vk int
	switch {
	case r != nil:
		vk = 2
	case m != nil:
		vk = 1
	default:
		return st, nil // absent (or a row without m/r, which no writer produces)
	}
	v := cells[vk]
	st.Version = versionCell{Family: fams[vk], Column: v.Column[len(fams[vk])+1:], TS: v.Timestamp, Value: v.Value}
	if st.Version.Family == familyTimed && v.Timestamp < liveFrom(now) {
		return rowState{}, nil // expired
	}
	var deadline time.Time
	if st.Version.Family == familyTimed {
		deadline = v.Timestamp.Time().UTC()
	}

	switch {
	case r != nil:
		ts := driver.Tombstone{Target: id, Expires: deadline}
		if len(r.Value) == 0 {
			st.Legacy = true
		} else {
			target, err := object.ParseStoragePath(string(r.Value))
			if err != nil {
				return rowState{}, fmt.Errorf("bigtable row %q: bad redirect: %w", id.StoragePath(), err)
			}
			ts.Target = target
		}
		if t != nil && len(t.Value) > 0 {
			var tm tombstoneMeta
			if err := json.Unmarshal(t.Value, &tm); err != nil {
				return rowState{}, fmt.Errorf("bigtable row %q: bad tombstone metadata: %v", id.StoragePath(), err)
			}
			pol, err := object.UnmarshalPolicyJSON(tm.ExpirationPolicy)
			if err != nil {
				return rowState{}, fmt.Errorf("bigtable row %q: %v", id.StoragePath(), err)
			}
			ts.ExpirationPolicy = pol
		}
		st.Entry = driver.Entry{Kind: driver.EntryTombstone, Tombstone: ts}
		return st, nil

	case isLegacyTombstoneJSON(m.Value):
		// Like objectstore's reader, the policy comes from the JSON and the deadline from the
		// cell; a time_expires an older bump left in the JSON is ignored.
		var md object.Metadata
		if err := md.UnmarshalJSON(m.Value); err != nil {
			return rowState{}, fmt.Errorf("bigtable row %q: bad legacy tombstone: %v", id.StoragePath(), err)
		}
		st.Legacy = true
		st.Entry = driver.Entry{Kind: driver.EntryTombstone, Tombstone: driver.Tombstone{
			Target: id, ExpirationPolicy: md.ExpirationPolicy, Expires: deadline,
		}}
		return st, nil
	}

	var md object.Metadata
	if err := md.UnmarshalJSON(m.Value); err != nil {
		return rowState{}, fmt.Errorf("bigtable row %q: bad metadata: %v", id.StoragePath(), err)
	}
	// The cell timestamp is the deadline, as objectstore reads it: whole milliseconds from
	// an fg cell, none from fm. A time_expires in the JSON is ignored (it has the writer's
	// full precision, and a bump by any writer moves only the cell).
	md.TimeExpires = deadline
	st.Entry = driver.Entry{Kind: driver.EntryObject, Metadata: md}
	if withPayload {
		var payload []byte
		if p != nil {
			payload = p.Value
		}
		if payload == nil {
			payload = []byte{}
		}
		st.Entry.Payload = payload
		st.Entry.Metadata.Size = int64(len(payload))
	}
	return st, nil
}

// isLegacyTombstoneJSON reports whether an m value is a pre-r/t tombstone as objectstore's
// read path decides it: the JSON parses with "is_redirect_tombstone": true, wherever the field
// is and however it is spaced. The CAS predicate matches only the prefix form
// (isLegacyTombstone); objectstore never wrote any other, and neither does Strata.
func isLegacyTombstoneJSON(m []byte) bool {
	if !bytes.Contains(m, []byte("is_redirect_tombstone")) {
		return false // the common case: an object's m, not worth a second parse
	}
	var v struct {
		IsRedirectTombstone bool `json:"is_redirect_tombstone"`
	}
	return json.Unmarshal(m, &v) == nil && v.IsRedirectTombstone
}

// isLegacyTombstone reports whether an m value starts like a pre-r/t tombstone, which is
// what the CAS predicate matches (filters.go).
func isLegacyTombstone(m []byte) bool {
	if !bytes.HasPrefix(m, []byte(legacyTombstonePrefix)) {
		return false
	}
	rest := m[len(legacyTombstonePrefix):]
	return len(rest) > 0 && (rest[0] == ',' || rest[0] == '}')
}
