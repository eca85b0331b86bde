package bigtablebackend

import (
	"cloud.google.com/go/bigtable"
	"github.com/stratastore/strata/tiered/object"
)

// The filters below are objectstore's predicates (storage-internals §6.3), built so that an
// expired row never matches and so that repeating a CAS whose response was lost reports
// success again. Columns are matched with ColumnRangeFilter [q, q+"\x00") and values with
// ValueRangeFilter [v, v+"\x00") (or a prefix range), so no predicate uses a regex: they are
// exact, binary-safe, and cheap to evaluate (bttest compiles a regex for every cell).

// column matches the cells of family:q exactly, with a column range [q, q+"\x00") rather
// than regexes: exact, binary-safe, and cheaper to evaluate (bttest compiles a regex per cell).
func column(family, q string) bigtable.Filter {
	return bigtable.ColumnRangeFilter(family, q, q+"\x00")
}

// chain is ChainFilters that accepts a single filter (Bigtable rejects one-element chains).
func chain(fs ...bigtable.Filter) bigtable.Filter {
	if len(fs) == 1 {
		return fs[0]
	}
	return bigtable.ChainFilters(fs...)
}

// valueEquals matches cells whose value is exactly v: the range [v, v+"\x00").
func valueEquals(v []byte) bigtable.Filter {
	start := make([]byte, len(v))
	copy(start, v)
	end := make([]byte, len(v)+1)
	copy(end, v)
	return bigtable.ValueRangeFilter(start, end)
}

// liveColumn matches the live cells of qualifier q that pass the extra filters: every fm
// cell, and fg cells whose deadline is not before liveFrom. It is objectstore's
// live_row_filter applied to one column.
func liveColumn(q string, liveFrom bigtable.Timestamp, extra ...bigtable.Filter) bigtable.Filter {
	return bigtable.InterleaveFilters(
		chain(append([]bigtable.Filter{column(familyManual, q)}, extra...)...),
		chain(append([]bigtable.Filter{column(familyTimed, q), bigtable.TimestampRangeFilterMicros(liveFrom, 0)}, extra...)...),
	)
}

// legacyTombstoneValue matches an m value that starts with legacyTombstonePrefix followed by
// ',' or '}' (isLegacyTombstone), as two value ranges instead of objectstore's regex
// ^\{"is_redirect_tombstone":true[,}].*: every value with prefix p+"," lies in
// [p+",", p+"-"), and every value with prefix p+"}" in [p+"}", p+"~").
func legacyTombstoneValue() bigtable.Filter {
	p := legacyTombstonePrefix
	return bigtable.InterleaveFilters(
		bigtable.ValueRangeFilter([]byte(p+","), []byte(p+"-")),
		bigtable.ValueRangeFilter([]byte(p+"}"), []byte(p+"~")),
	)
}

// liveLegacyTombstone matches a live m cell holding a legacy tombstone.
func liveLegacyTombstone(liveFrom bigtable.Timestamp) bigtable.Filter {
	return liveColumn(colMeta, liveFrom, legacyTombstoneValue())
}

// tombstoneFilter matches a live tombstone, new or legacy format.
func tombstoneFilter(liveFrom bigtable.Timestamp) bigtable.Filter {
	return bigtable.InterleaveFilters(liveColumn(colRedirect, liveFrom), liveLegacyTombstone(liveFrom))
}

// redirectTargetFilter matches a live tombstone pointing to target. When target is the row's
// own id, legacy tombstones (empty r, or m with is_redirect_tombstone) match too, because
// they resolve to the row's own id.
func redirectTargetFilter(target, own object.ID, liveFrom bigtable.Timestamp) bigtable.Filter {
	exact := liveColumn(colRedirect, liveFrom, valueEquals([]byte(target.StoragePath())))
	if !target.Equal(own) {
		return exact
	}
	return bigtable.InterleaveFilters(
		exact,
		liveColumn(colRedirect, liveFrom, valueEquals(nil)),
		liveLegacyTombstone(liveFrom),
	)
}

// predicate is a CheckAndMutateRow condition. With include, the write goes into the true
// mutations and succeeds when the filter matched; otherwise into the false mutations, and
// succeeds when it did not.
type predicate struct {
	Filter  bigtable.Filter
	Include bool
}

// mutation returns the conditional mutation applying w under p.
func (p predicate) mutation(w rowWrite) *bigtable.Mutation {
	if p.Include {
		return bigtable.NewCondMutation(p.Filter, w.mutation(), nil)
	}
	return bigtable.NewCondMutation(p.Filter, nil, w.mutation())
}

// succeeded reports whether the write ran, given the predicate_matched result.
func (p predicate) succeeded(matched bool) bool { return matched == p.Include }

// String renders the predicate for golden files and logs.
func (p predicate) String() string {
	if p.Include {
		return "Include(" + p.Filter.String() + ")"
	}
	return "Exclude(" + p.Filter.String() + ")"
}

// noTombstonePredicate succeeds when there is no live tombstone (absent, object, or expired).
// put_non_tombstone, delete_non_tombstone and CAS(None, Object|Delete) use it.
func noTombstonePredicate(liveFrom bigtable.Timestamp) predicate {
	return predicate{Filter: tombstoneFilter(liveFrom)}
}

// optionalTargetPredicate succeeds when there is no live tombstone, or the live tombstone
// points to target. CAS(None, Tombstone(new)) uses it with new (idempotent retry), and
// CAS(Some(old), Object|Delete) with old.
func optionalTargetPredicate(target, own object.ID, liveFrom bigtable.Timestamp) predicate {
	return predicate{Filter: bigtable.ConditionFilter(
		redirectTargetFilter(target, own, liveFrom),
		bigtable.BlockAllFilter(),
		tombstoneFilter(liveFrom),
	)}
}

// updatePredicate succeeds when the live tombstone points to old or to new.
// CAS(Some(old), Tombstone(new)) uses it.
func updatePredicate(old, new, own object.ID, liveFrom bigtable.Timestamp) predicate {
	return predicate{Include: true, Filter: bigtable.InterleaveFilters(
		redirectTargetFilter(old, own, liveFrom),
		redirectTargetFilter(new, own, liveFrom),
	)}
}

// versionPredicate succeeds only while the row still holds exactly the version v that was
// read: same family, qualifier, cell timestamp and value. A TTI bump is conditional on it, so
// it never reverts a concurrent overwrite, tombstone swap or delete.
func versionPredicate(v versionCell) predicate {
	return predicate{Include: true, Filter: bigtable.ChainFilters(
		column(v.Family, v.Column),
		bigtable.TimestampRangeFilterMicros(v.TS, v.TS+1000),
		valueEquals(v.Value),
	)}
}

// metadataFilter reads everything but the payload (m, r, t), newest version only.
func metadataFilter() bigtable.Filter {
	return bigtable.ChainFilters(bigtable.ColumnFilter("^[mrt]$"), bigtable.LatestNFilter(1))
}

// fullRowFilter reads the whole row, newest version of each column.
func fullRowFilter() bigtable.Filter { return bigtable.LatestNFilter(1) }
