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
	Backlog tiered.Backlog      `json:"backlog"`
	LastRun *driver.RecoveryRun `json:"last_run"`
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
		rep.LastRun = &run
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
				rep.LastRun = &run
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

// RecoveryRun is a recorded recovery run (driver.RecoveryRun), named here for the packages
// above runtime, which do not import the driver contracts.
type RecoveryRun = driver.RecoveryRun

func isNotFound(err error) bool { return errors.Is(err, object.ErrNotFound) }
