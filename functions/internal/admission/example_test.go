package admission_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/tiered/object"
)

func Example() {
	ks, _ := admission.ParseKillswitches(`[{"usecase": "broken"}, {"service": "batch-*"}]`)
	rl, _ := admission.ParseRateLimits(`{"throughput": {"global_rps": 2}}`)
	now := time.Date(2026, 7, 23, 10, 0, 0, 0, time.UTC)
	limiter := admission.NewLimiter(rl, func() time.Time { return now })
	conc := admission.NewConcurrency(admission.DefaultMaxConcurrency, admission.DefaultConcurrencyQueue,
		admission.DefaultConcurrencyTimeout, admission.DefaultBulkPct)

	ctx := object.Context{Usecase: "attachments", Scopes: []object.Scope{{Name: "org", Value: "1"}}}
	fmt.Println("killswitched:", ks.Blocked(ctx, "batch-runner-7d8f9c5b6d-abc12"))
	fmt.Println("admitted:", limiter.Admit(ctx), limiter.Admit(ctx), limiter.Admit(ctx))
	release, err := conc.Acquire(context.Background())
	fmt.Println("permit:", err, conc.Running())
	release()
	// Output:
	// killswitched: true
	// admitted: true true false
	// permit: <nil> 1
}
