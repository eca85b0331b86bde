package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/runtime"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/observe"
)

// PathStatus is the local server's status endpoint, on its admin listener only: GET answers
// a StatusReport as JSON. `strata status` asks it when the server holds the data directory.
const PathStatus = "/internal/status"

// Recovery intervals `strata status` assumes when --recover-interval is not given: the
// local server's timer, and the deployed Cloud Scheduler job's default ("*/5 * * * *").
const (
	localRecoverInterval    = 30 * time.Second
	deployedRecoverInterval = 5 * time.Minute
	// overdueRuns: a last run older than this many intervals is flagged.
	overdueRuns = 3
)

// StatusReport is what PathStatus answers (runtime.StatusReport).
type StatusReport = runtime.StatusReport

// statusDoc is `strata status --json`.
type statusDoc struct {
	Storage string `json:"storage"`
	// Source says where the status was read: the data directory, the server, Bigtable.
	Source  string               `json:"source"`
	Backlog tiered.Backlog       `json:"backlog"`
	LastRun *runtime.RecoveryRun `json:"last_run"`
	// LastRunAgoMS is how long ago the last run started; Overdue flags it when that is more
	// than 3 recovery intervals (or no run was recorded).
	LastRunAgoMS       int64          `json:"last_run_ago_ms,omitempty"`
	RecoverIntervalMS  int64          `json:"recover_interval_ms"`
	Overdue            bool           `json:"overdue"`
	DeadLetter         deadLetterInfo `json:"dead_letter"`
	generatedAt        time.Time
	recoverIntervalDur time.Duration
}

// deadLetterInfo is the dead-letter depth, when there is a queue to measure.
type deadLetterInfo struct {
	Subscription string     `json:"subscription,omitempty"`
	Undelivered  *int64     `json:"undelivered,omitempty"`
	At           *time.Time `json:"at,omitempty"`
	Note         string     `json:"note,omitempty"`
	Error        string     `json:"error,omitempty"`
}

// deadLetterFunc reads the latest num_undelivered_messages of a subscription.
type deadLetterFunc func(ctx context.Context, project, subscription string) (int64, time.Time, error)

// statusFlags is `strata status`.
func statusFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	var (
		watch    durationFlag
		interval durationFlag
		adminURL string
		project  string
		dlSub    string
	)
	fs.Var(&watch, "watch", "redraw every `INTERVAL` (e.g. 5s) until interrupted")
	fs.Var(&interval, "recover-interval", "the recovery interval a last run is judged against (default 30s local, 5m deployed)")
	fs.StringVar(&adminURL, "admin-url", "", "the local server's admin listener, asked when it holds the data directory (default http://$STRATA_ADMIN_ADDR)")
	fs.StringVar(&project, "project", "", "project of the dead-letter subscription (default $STRATA_BIGTABLE_PROJECT)")
	fs.StringVar(&dlSub, "dead-letter-subscription", "", "the cleanup dead-letter pull subscription (default: derived from $STRATA_CLEANUP_TOPIC, {name}-cleanup-dead-letter-pull)")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		// Auth is the server's business, not status's: without this, an operator would need
		// the server's keys just to read the backlog.
		cfg, err := config.Load(append(a.environ(), "STRATA_AUTH_ENFORCE=false"))
		if err != nil {
			return usagef("configuration: %v", err)
		}
		if watch.d != 0 && watch.d < time.Second {
			return usagef("--watch: at least 1s")
		}
		if adminURL == "" {
			adminURL = "http://" + cfg.AdminAddr
		}
		if project == "" {
			project = cfg.Bigtable.Project
		}
		if dlSub == "" && !cfg.CleanupTopic.IsZero() {
			dlSub = strings.TrimSuffix(cfg.CleanupTopic.ID, "-cleanup") + "-cleanup-dead-letter-pull"
		}
		every := interval.d
		if every == 0 {
			every = deployedRecoverInterval
			if cfg.Storage == config.StorageLocal {
				every = localRecoverInterval
			}
		}
		once := func() error {
			ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
			defer cancel()
			doc, err := a.collectStatus(ctx, cfg, adminURL, project, dlSub, every)
			if err != nil {
				return err
			}
			if c.json {
				a.printJSON(doc)
			} else {
				if watch.d != 0 {
					fmt.Fprint(a.stdout, "\x1b[H\x1b[2J") // home, clear: redraw in place
				}
				writeStatus(a.stdout, doc)
			}
			return nil
		}
		if err := once(); err != nil || watch.d == 0 {
			return err
		}
		t := time.NewTicker(watch.d)
		defer t.Stop()
		for {
			select {
			case <-a.ctx.Done():
				return nil // Ctrl-C ends a watch normally
			case <-t.C:
			}
			if err := once(); err != nil {
				if a.ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// environ returns the STRATA_* variables config.Load reads, from a.getenv.
func (a *app) environ() []string {
	var env []string
	for _, name := range config.Variables() {
		if v := a.getenv(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	return env
}

func (a *app) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// collectStatus reads the change log like the server: the data directory directly, or the
// running server's admin listener when it holds the directory; Bigtable directly.
func (a *app) collectStatus(ctx context.Context, cfg config.Config, adminURL, project, dlSub string, every time.Duration) (statusDoc, error) {
	now := a.clock()
	doc := statusDoc{Storage: string(cfg.Storage), generatedAt: now, recoverIntervalDur: every, RecoverIntervalMS: every.Milliseconds()}
	var rep StatusReport
	switch cfg.Storage {
	case config.StorageLocal:
		dir, _ := filepath.Abs(cfg.DataDir)
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "strata.db")); err != nil {
			return statusDoc{}, fmt.Errorf("no local data in %s (STRATA_DATA_DIR): %w", dir, err)
		}
		log, closeLog, err := runtime.OpenChangeLog(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		switch {
		case errors.Is(err, runtime.ErrDataDirInUse):
			doc.Source = "the running server at " + adminURL + " (it holds " + dir + ")"
			if rep, err = a.askServer(ctx, adminURL); err != nil {
				return statusDoc{}, fmt.Errorf("%s is in use, and its server did not answer at %s: %w", dir, adminURL, err)
			}
		case err != nil:
			return statusDoc{}, err
		default:
			doc.Source = "local data in " + dir
			rep, err = runtime.ReadStatus(ctx, log, now)
			err = errors.Join(err, closeLog())
			if err != nil {
				return statusDoc{}, err
			}
		}
		doc.DeadLetter.Note = "no dead-letter queue (local server)"
	default:
		log, closeLog, err := runtime.OpenChangeLog(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return statusDoc{}, err
		}
		doc.Source = fmt.Sprintf("Bigtable %s/%s", cfg.Bigtable.Project, cfg.Bigtable.Instance)
		rep, err = runtime.ReadStatus(ctx, log, now)
		if err = errors.Join(err, closeLog()); err != nil {
			return statusDoc{}, err
		}
		doc.DeadLetter = a.deadLetterDepth(ctx, cfg, project, dlSub)
	}
	doc.Backlog, doc.LastRun = rep.Backlog, rep.LastRun
	doc.Overdue = true
	if r := rep.LastRun; r != nil {
		ago := now.Sub(r.Started)
		doc.LastRunAgoMS = ago.Milliseconds()
		doc.Overdue = ago > overdueRuns*every
	}
	return doc, nil
}

// askServer gets PathStatus from the local server's admin listener.
func (a *app) askServer(ctx context.Context, adminURL string) (StatusReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(adminURL, "/")+PathStatus, nil)
	if err != nil {
		return StatusReport{}, usagef("--admin-url: %v", err)
	}
	hc := a.httpClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return StatusReport{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return StatusReport{}, fmt.Errorf("%s: %s %s", PathStatus, resp.Status, strings.TrimSpace(string(b)))
	}
	var rep StatusReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return StatusReport{}, fmt.Errorf("%s: %w", PathStatus, err)
	}
	return rep, nil
}

// deadLetterDepth measures the dead-letter subscription when deployed.
func (a *app) deadLetterDepth(ctx context.Context, cfg config.Config, project, sub string) deadLetterInfo {
	switch {
	case cfg.Storage != config.StorageGCP:
		return deadLetterInfo{Note: "no dead-letter metrics (emulators: Cloud Monitoring does not see them)"}
	case project == "" || sub == "":
		return deadLetterInfo{Note: "dead-letter depth unknown: give --project and --dead-letter-subscription (or set STRATA_CLEANUP_TOPIC)"}
	}
	read := a.deadLetter
	if read == nil {
		read = monitoringDeadLetter
	}
	info := deadLetterInfo{Subscription: sub}
	n, at, err := read(ctx, project, sub)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	info.Undelivered, info.At = &n, &at
	return info
}

// monitoringDeadLetter reads pubsub.googleapis.com/subscription/num_undelivered_messages of
// the subscription from Cloud Monitoring: the newest point of the last 15 minutes (Pub/Sub
// samples it every minute, with a few minutes' delay).
func monitoringDeadLetter(ctx context.Context, project, subscription string) (int64, time.Time, error) {
	c, err := monitoring.NewMetricClient(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer c.Close()
	now := time.Now()
	it := c.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{
		Name: "projects/" + project,
		Filter: fmt.Sprintf(`metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages" AND resource.type = "pubsub_subscription" AND resource.labels.subscription_id = %q`,
			subscription),
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-15 * time.Minute)), EndTime: timestamppb.New(now)},
		View:     monitoringpb.ListTimeSeriesRequest_FULL,
	})
	var (
		best   int64
		bestAt time.Time
		found  bool
	)
	for {
		ts, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return 0, time.Time{}, err
		}
		for _, p := range ts.GetPoints() {
			at := p.GetInterval().GetEndTime().AsTime()
			if !found || at.After(bestAt) {
				best, bestAt, found = p.GetValue().GetInt64Value(), at, true
			}
		}
	}
	if !found {
		return 0, time.Time{}, fmt.Errorf("no num_undelivered_messages point for subscription %s in the last 15 minutes", subscription)
	}
	return best, bestAt, nil
}

// writeStatus prints doc for a person.
func writeStatus(w io.Writer, doc statusDoc) {
	b := doc.Backlog
	fmt.Fprintf(w, "strata status (%s storage, read from %s)\n\n", doc.Storage, doc.Source)
	fmt.Fprintf(w, "change-log backlog: %d entries, %d with a stale lease (recovery claims them)\n", b.Total, b.Stale)
	if b.Total > 0 {
		var phases []string
		for _, p := range observe.Phases() {
			if n := b.ByPhase[p]; n > 0 {
				phases = append(phases, fmt.Sprintf("%s %d", p, n))
			}
		}
		fmt.Fprintf(w, "  by phase: %s\n", strings.Join(phases, ", "))
		var ages []string
		for _, a := range b.ByAge {
			ages = append(ages, fmt.Sprintf("%s: %d", a.Label, a.Count))
		}
		fmt.Fprintf(w, "  by age:   %s\n", strings.Join(ages, "; "))
	}
	if o := b.Oldest; o != nil {
		fmt.Fprintf(w, "  oldest:   %s, %s, %s old, object %s, lease %q\n", o.ID, o.Phase, roundAge(o.Age), o.Object, o.Owner)
	}
	fmt.Fprintln(w)
	if r := doc.LastRun; r == nil {
		fmt.Fprintf(w, "last recovery run: none recorded  [OVERDUE: recovery runs every %s]\n", doc.recoverIntervalDur)
	} else {
		outcome := "ok"
		if !r.OK() {
			outcome = "FAILED: " + r.Error
		}
		fmt.Fprintf(w, "last recovery run: %s (%s ago), took %s, %s\n", r.Started.UTC().Format(time.RFC3339),
			roundAge(time.Duration(doc.LastRunAgoMS)*time.Millisecond), r.Duration, outcome)
		fmt.Fprintf(w, "  claimed %d, settled %d, dispatched %d, failed %d; by %s\n", r.Claimed, r.Settled, r.Dispatched, r.Failed, r.Instance)
		if doc.Overdue {
			fmt.Fprintf(w, "  OVERDUE: older than %d × the %s recovery interval\n", overdueRuns, doc.recoverIntervalDur)
		}
	}
	fmt.Fprintln(w)
	dl := doc.DeadLetter
	switch {
	case dl.Note != "":
		fmt.Fprintf(w, "dead-letter queue: %s\n", dl.Note)
	case dl.Error != "":
		fmt.Fprintf(w, "dead-letter queue %s: depth unknown: %s\n", dl.Subscription, dl.Error)
	case dl.Undelivered != nil:
		fmt.Fprintf(w, "dead-letter queue %s: %d undelivered (as of %s)\n", dl.Subscription, *dl.Undelivered, dl.At.UTC().Format(time.RFC3339))
	}
}

// roundAge rounds d for display: seconds under an hour, minutes above.
func roundAge(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// isNotFound reports whether err is a not-found sentinel of the tiered packages.
func isNotFound(err error) bool { return errors.Is(err, object.ErrNotFound) }
