package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// StatusReport is what the local server's status endpoint (cli.PathStatus) answers: the change-log backlog and the last recovery run
// (null when none was recorded).
type StatusReport struct {
	Backlog tiered.Backlog `json:"backlog"`
	LastRun *RunReport     `json:"last_run"`
}

// RunReport is a driver.RecoveryRun as JSON.
type RunReport struct {
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	Claimed    int       `json:"claimed"`
	Settled    int       `json:"settled"`
	Dispatched int       `json:"dispatched"`
	Failed     int       `json:"failed"`
	Instance   string    `json:"instance"`
}

func runReport(r driver.RecoveryRun) *RunReport {
	return &RunReport{Started: r.Started, DurationMS: r.Duration.Milliseconds(), OK: r.OK(), Error: r.Error, Claimed: r.Claimed,
		Settled: r.Settled, Dispatched: r.Dispatched, Failed: r.Failed, Instance: r.Instance}
}

// ReadStatus reads the backlog and the last run from a change log.
func ReadStatus(ctx context.Context, log driver.ChangeLog, now time.Time) (StatusReport, error) {
	b, err := tiered.ReadBacklog(ctx, log, now, 0)
	if err != nil {
		return StatusReport{}, err
	}
	rep := StatusReport{Backlog: b}
	run, err := tiered.ReadLastRun(ctx, log)
	switch {
	case err == nil:
		rep.LastRun = runReport(run)
	case !isNotFound(err):
		return StatusReport{}, err
	}
	return rep, nil
}

// StatusHandler serves the status endpoint for the local server from store.
func StatusHandler(store *tiered.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := store.Backlog(r.Context())
		var rep StatusReport
		if err == nil {
			rep.Backlog = b
			var run driver.RecoveryRun
			if run, err = store.LastRun(r.Context()); err == nil {
				rep.LastRun = runReport(run)
			} else if isNotFound(err) {
				err = nil
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	})
}

func isNotFound(err error) bool { return errors.Is(err, object.ErrNotFound) }
