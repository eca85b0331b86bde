package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/storage"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"

	"github.com/stratastore/strata/tiered/bigtablebackend"
	"github.com/stratastore/strata/tiered/gcsbackend"
	"github.com/stratastore/strata/tiered/object"
)

// RuleNotStoragePath is the reason given for a stored name that is not a storage path at all
// (no usecase, no "objects" segment, a malformed "name.value" scope, or nothing after
// "objects/"): no request URL names such an object, so it counts as unreachable through the
// deployed HTTP path.
const RuleNotStoragePath object.Rule = "not-a-storage-path"

// UnservableKey is one stored object that Strata cannot serve: a Bigtable row or a GCS object
// whose storage path breaks at least one of object.ID.Validate's rules.
type UnservableKey struct {
	// Source is "bigtable" or "gcs".
	Source string
	// Name is the row key or the GCS object name, as stored.
	Name string
	// Path is the storage path the rules were applied to: Name, or for a GCS revision
	// ("{path}/{uuid}") the logical path before the revision.
	Path string
	// Problems are the rules broken, in Validate's order (at least one).
	Problems []object.Problem
}

// DeployedPath reports whether no request through the deployed HTTP path can reach the
// object (some problem's Rule.DeployedPath, or the name is no storage path); otherwise the
// request arrives and Strata's own limits refuse it.
func (u UnservableKey) DeployedPath() bool {
	for _, p := range u.Problems {
		if p.Rule == RuleNotStoragePath || p.Rule.DeployedPath() {
			return true
		}
	}
	return false
}

// checkStoragePath returns the problems of one storage path, nil when Strata serves it.
func checkStoragePath(path string) []object.Problem {
	id, err := object.ParseStoragePath(path)
	if err != nil {
		return []object.Problem{{Rule: RuleNotStoragePath, Err: err}}
	}
	return id.Problems()
}

// ScanBigtableKeys reads every row key of the objects table (keys only: the filter strips
// values and keeps one cell per row) and calls found for each row whose storage path Strata
// would refuse. It returns the number of rows read. Rows are reported whatever their state:
// objects, tombstones, and rows that expired but are not yet collected.
func ScanBigtableKeys(ctx context.Context, client *bigtable.Client, table string, found func(UnservableKey) error) (int, error) {
	var n int
	var ferr error
	err := client.Open(table).ReadRows(ctx, bigtable.InfiniteRange(""), func(r bigtable.Row) bool {
		n++
		key := r.Key()
		if ps := checkStoragePath(key); ps != nil {
			if ferr = found(UnservableKey{Source: "bigtable", Name: key, Path: key, Problems: ps}); ferr != nil {
				return false
			}
		}
		return true
	}, bigtable.RowFilter(bigtable.ChainFilters(bigtable.CellsPerRowLimitFilter(1), bigtable.StripValueFilter())))
	if err != nil {
		return n, fmt.Errorf("bigtable: read row keys of %q: %w", table, err)
	}
	return n, ferr
}

// ScanGCSKeys lists every object of the bucket (names only) and calls found for each object
// whose logical storage path Strata would refuse. It returns the number of objects listed.
// Both systems store a large object at a revision "{path}/{uuid}", so a name whose last
// segment is a UUID is judged by the path before it; other names (the target of a legacy
// tombstone) by themselves. Strata's multipart staging under gcsbackend.UploadsPrefix is
// skipped and not counted.
func ScanGCSKeys(ctx context.Context, client *storage.Client, bucket string, found func(UnservableKey) error) (int, error) {
	q := &storage.Query{}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return 0, err
	}
	it := client.Bucket(bucket).Objects(ctx, q)
	var n int
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("gcs: list bucket %q: %w", bucket, err)
		}
		if strings.HasPrefix(attrs.Name, gcsbackend.UploadsPrefix) {
			continue
		}
		n++
		path := revisionBase(attrs.Name)
		if ps := checkStoragePath(path); ps != nil {
			if err := found(UnservableKey{Source: "gcs", Name: attrs.Name, Path: path, Problems: ps}); err != nil {
				return n, err
			}
		}
	}
}

// revisionBase returns the logical path of a revision name "{path}/{uuid}", or name itself.
func revisionBase(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 || len(name)-i-1 != 36 {
		return name
	}
	if _, err := uuid.Parse(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// DefaultObjectsTable is the objects table scan-keys reads when none is named: objectstore's
// and Strata's default.
const DefaultObjectsTable = bigtablebackend.DefaultTable

// ScanTarget names what ScanKeys reads.
type ScanTarget struct {
	// Project and Instance name the Bigtable instance; Table is its objects table.
	Project, Instance, Table string
	// Bucket, when set, is also scanned.
	Bucket string
}

// ScanCounts says how much ScanKeys read.
type ScanCounts struct {
	Rows, Objects int
}

// ScanKeys scans target's table, and its bucket when set, with clients made from the
// environment: bigtable.NewClient connects to BIGTABLE_EMULATOR_HOST when it is set and
// storage.NewClient to STORAGE_EMULATOR_HOST, else to Google Cloud with application default
// credentials. The clients are closed before it returns.
func ScanKeys(ctx context.Context, target ScanTarget, found func(UnservableKey) error) (ScanCounts, error) {
	var c ScanCounts
	bt, err := bigtable.NewClient(ctx, target.Project, target.Instance)
	if err != nil {
		return c, fmt.Errorf("bigtable client: %w", err)
	}
	defer bt.Close()
	if c.Rows, err = ScanBigtableKeys(ctx, bt, target.Table, found); err != nil || target.Bucket == "" {
		return c, err
	}
	gcs, err := storage.NewClient(ctx)
	if err != nil {
		return c, fmt.Errorf("gcs client: %w", err)
	}
	defer gcs.Close()
	c.Objects, err = ScanGCSKeys(ctx, gcs, target.Bucket, found)
	return c, err
}
