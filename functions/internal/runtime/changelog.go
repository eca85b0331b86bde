package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/localbackend"
)

// ErrDataDirInUse is OpenChangeLog's error when a running local server holds the data
// directory's lock (bbolt allows one process at a time): ask that server instead.
var ErrDataDirInUse = errors.New("local data directory in use by another process")

// statusLockTimeout is how long OpenChangeLog waits for a local data directory's lock.
const statusLockTimeout = 300 * time.Millisecond

// OpenChangeLog opens only the change log cfg's storage uses, for operator tools that read it
// directly (`strata status`), and returns it with its close function. Local storage is opened
// with a short lock wait and without the sweeper; a directory another process holds fails
// with an error matching ErrDataDirInUse. Bigtable storage opens the client and the backend
// as the server does (on emulators the tables are created if missing).
func OpenChangeLog(ctx context.Context, cfg config.Config, log *slog.Logger) (driver.ChangeLog, func() error, error) {
	rt := &Runtime{Config: cfg, Logger: log}
	switch cfg.Storage {
	case config.StorageLocal:
		lb, err := localbackend.Open(ctx, cfg.DataDir, &localbackend.Options{Logger: log, SweepInterval: -1, LockTimeout: statusLockTimeout})
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, nil, fmt.Errorf("%s: %w", cfg.DataDir, ErrDataDirInUse)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("STRATA_DATA_DIR: %w", err)
		}
		return lb.ChangeLog(), lb.Close, nil
	case config.StorageEmulators, config.StorageGCP:
		bt, err := rt.openBigtable(ctx)
		if err != nil {
			return nil, nil, errors.Join(err, rt.closeBackends())
		}
		return bt, rt.closeBackends, nil
	}
	return nil, nil, fmt.Errorf("STRATA_STORAGE: unknown storage %q", cfg.Storage)
}
