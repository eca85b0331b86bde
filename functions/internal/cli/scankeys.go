package cli

import (
	"flag"
	"fmt"

	"github.com/stratastore/strata/functions/internal/runtime"
)

// The two classes scan-keys sorts unservable keys into (runtime.UnservableKey.DeployedPath).
const (
	classDeployedPath = "deployed-path"
	classStrataLimit  = "strata-limit"
)

// unservableFound is scan-keys' result when it found keys Strata cannot serve.
type unservableFound struct{ n int }

func (e *unservableFound) Error() string {
	return fmt.Sprintf("found %d stored keys that Strata cannot serve", e.n)
}

// scanKeysFlags is `strata scan-keys`: it reads the row keys of an objects table (and the
// object names of a bucket) directly from storage, through runtime.ScanKeys, and lists the
// ones Strata would refuse, before a cutover from objectstore.
func scanKeysFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	var target runtime.ScanTarget
	fs.StringVar(&target.Project, "project", "", "Bigtable project ($STRATA_BIGTABLE_PROJECT)")
	fs.StringVar(&target.Instance, "instance", "", "Bigtable instance ($STRATA_BIGTABLE_INSTANCE)")
	fs.StringVar(&target.Table, "table", "", "the objects table ($STRATA_BIGTABLE_TABLE, else "+runtime.DefaultObjectsTable+")")
	fs.StringVar(&target.Bucket, "bucket", "", "also scan this GCS bucket's object names (off by default)")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		for _, f := range []struct {
			v   *string
			env string
			def string
		}{
			{&target.Project, "STRATA_BIGTABLE_PROJECT", ""},
			{&target.Instance, "STRATA_BIGTABLE_INSTANCE", ""},
			{&target.Table, "STRATA_BIGTABLE_TABLE", runtime.DefaultObjectsTable},
		} {
			if *f.v == "" {
				*f.v = a.getenv(f.env)
			}
			if *f.v == "" {
				*f.v = f.def
			}
		}
		if target.Project == "" || target.Instance == "" {
			return usagef("--project and --instance are required (or $STRATA_BIGTABLE_PROJECT and $STRATA_BIGTABLE_INSTANCE)")
		}
		type reason struct {
			Rule    string `json:"rule"`
			Message string `json:"message"`
		}
		type finding struct {
			Source  string   `json:"source"`
			Name    string   `json:"name"`
			Path    string   `json:"path,omitempty"`
			Class   string   `json:"class"`
			Reasons []reason `json:"reasons"`
		}
		var found []finding
		perClass := map[string]int{}
		counts, err := runtime.ScanKeys(a.ctx, target, func(u runtime.UnservableKey) error {
			f := finding{Source: u.Source, Name: u.Name, Class: classStrataLimit}
			if u.Path != u.Name {
				f.Path = u.Path
			}
			if u.DeployedPath() {
				f.Class = classDeployedPath
			}
			perClass[f.Class]++
			for _, p := range u.Problems {
				f.Reasons = append(f.Reasons, reason{string(p.Rule), p.Err.Error()})
			}
			if !c.json {
				fmt.Fprintf(a.stdout, "%s\t%s\t%q\n", f.Source, f.Class, f.Name)
				for _, r := range f.Reasons {
					fmt.Fprintf(a.stdout, "\t%s: %s\n", r.Rule, r.Message)
				}
			}
			found = append(found, f)
			return nil
		})
		if err != nil {
			return err
		}
		if c.json {
			a.printJSON(map[string]any{
				"rows_scanned":    counts.Rows,
				"objects_scanned": counts.Objects,
				"unservable":      len(found),
				"deployed_path":   perClass[classDeployedPath],
				"strata_limit":    perClass[classStrataLimit],
				"keys":            append([]finding{}, found...),
			})
		} else {
			scanned := fmt.Sprintf("%d rows of table %s", counts.Rows, target.Table)
			if target.Bucket != "" {
				scanned += fmt.Sprintf(" and %d objects of bucket %s", counts.Objects, target.Bucket)
			}
			fmt.Fprintf(a.stdout, "scanned %s: %d keys Strata cannot serve (%d cannot travel the deployed HTTP path, %d refused by Strata's own limits)\n",
				scanned, len(found), perClass[classDeployedPath], perClass[classStrataLimit])
		}
		if len(found) > 0 {
			return &unservableFound{len(found)}
		}
		return nil
	}
}
