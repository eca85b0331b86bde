package admission

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// DefaultBurstMillis is the bandwidth burst allowance when burst_ms is not set.
const DefaultBurstMillis = 1000

// RateLimits configures the Limiter; a nil section means no limit of that kind. Its JSON form
// mirrors objectstore's rate_limits YAML:
//
//	{"throughput": {"global_rps": 1000, "burst": 100, "usecase_pct": 50, "scope_pct": 25,
//	                "rules": [{"usecase": "high_priority", "scopes": [["org", "123"]], "rps": 500},
//	                          {"scopes": [["org", "456"], ["project", "789"]], "pct": 10}]},
//	 "bandwidth": {"global_bps": 1048576, "burst_ms": 2000, "usecase_pct": 50, "scope_pct": 25,
//	               "report_only": false}}
type RateLimits struct {
	Throughput *ThroughputConfig `json:"throughput,omitempty"`
	Bandwidth  *BandwidthConfig  `json:"bandwidth,omitempty"`
}

// ThroughputConfig limits requests per second with token buckets.
type ThroughputConfig struct {
	// GlobalRPS is the sustained rate of the process-wide bucket; nil means none.
	GlobalRPS *uint64 `json:"global_rps,omitempty"`
	// Burst is added to every bucket's capacity (capacity = rps + burst).
	Burst uint64 `json:"burst,omitempty"`
	// UsecasePct gives each usecase a bucket at this percentage of GlobalRPS.
	UsecasePct *uint64 `json:"usecase_pct,omitempty"`
	// ScopePct gives each full scope list (across usecases) a bucket at this percentage of
	// GlobalRPS.
	ScopePct *uint64 `json:"scope_pct,omitempty"`
	// Rules add one bucket each, shared by the requests they match.
	Rules []ThroughputRule `json:"rules,omitempty"`
}

// ThroughputRule is an extra bucket for the requests it matches.
type ThroughputRule struct {
	// Usecase, when set, must equal the request's usecase.
	Usecase string `json:"usecase,omitempty"`
	// Scopes lists [name, value] pairs that must all appear among the request's scopes.
	// Required in JSON; [] matches every scope list.
	Scopes [][]string `json:"scopes"`
	// RPS is the rule's rate.
	RPS *uint64 `json:"rps,omitempty"`
	// Pct is the rule's rate as a percentage of GlobalRPS. With both, the smaller rate wins.
	Pct *uint64 `json:"pct,omitempty"`
}

// BandwidthConfig limits bytes per second, upload and download together.
type BandwidthConfig struct {
	// GlobalBPS is the process-wide rate in bytes per second; nil means none.
	GlobalBPS *uint64 `json:"global_bps,omitempty"`
	// BurstMillis is how far ahead of now a bucket's debt may run before requests are
	// refused; nil means DefaultBurstMillis.
	BurstMillis *uint64 `json:"burst_ms,omitempty"`
	// UsecasePct gives each usecase a bucket at this percentage of GlobalBPS.
	UsecasePct *uint64 `json:"usecase_pct,omitempty"`
	// ScopePct gives each full scope list a bucket at this percentage of GlobalBPS.
	ScopePct *uint64 `json:"scope_pct,omitempty"`
	// ReportOnly accounts bytes but never refuses a request.
	ReportOnly bool `json:"report_only,omitempty"`
}

// ParseRateLimits parses STRATA_RATE_LIMITS (see RateLimits for the shape). Empty or blank
// text means no limits. Unknown fields and settings that could not take effect are errors:
// a rate of 0 (use a killswitch to block), a percentage outside 1..100, a percentage without
// the global rate it refers to, a rule without scopes or without a rate, a scope pair that is
// not two non-empty strings.
func ParseRateLimits(jsonText string) (RateLimits, error) {
	var rl RateLimits
	if strings.TrimSpace(jsonText) == "" {
		return rl, nil
	}
	if err := checkKeys(jsonText, rateLimitsSchema); err != nil {
		return RateLimits{}, fmt.Errorf("rate limits: %w", err)
	}
	if err := decodeStrict(jsonText, &rl); err != nil {
		return RateLimits{}, fmt.Errorf("rate limits: %w", err)
	}
	if rl.Throughput != nil && len(rl.Throughput.Rules) == 0 {
		rl.Throughput.Rules = nil
	}
	if err := rl.Validate(); err != nil {
		return RateLimits{}, fmt.Errorf("rate limits: %w", err)
	}
	return rl, nil
}

// Validate checks the settings as ParseRateLimits does.
func (rl RateLimits) Validate() error {
	if t := rl.Throughput; t != nil {
		if t.GlobalRPS != nil && *t.GlobalRPS == 0 {
			return errors.New("throughput.global_rps must be positive")
		}
		if err := checkPct("throughput.usecase_pct", t.UsecasePct, t.GlobalRPS, "throughput.global_rps"); err != nil {
			return err
		}
		if err := checkPct("throughput.scope_pct", t.ScopePct, t.GlobalRPS, "throughput.global_rps"); err != nil {
			return err
		}
		for i, r := range t.Rules {
			name := fmt.Sprintf("throughput.rules[%d]", i)
			if r.Scopes == nil {
				return fmt.Errorf("%s.scopes is required (use [] to match any scopes)", name)
			}
			for j, pair := range r.Scopes {
				if len(pair) != 2 || pair[0] == "" || pair[1] == "" {
					return fmt.Errorf("%s.scopes[%d] must be a pair of non-empty strings [name, value]", name, j)
				}
			}
			if r.RPS == nil && r.Pct == nil {
				return fmt.Errorf("%s needs rps or pct", name)
			}
			if r.RPS != nil && *r.RPS == 0 {
				return fmt.Errorf("%s.rps must be positive (use a killswitch to block traffic)", name)
			}
			if err := checkPct(name+".pct", r.Pct, t.GlobalRPS, "throughput.global_rps"); err != nil {
				return err
			}
		}
	}
	if b := rl.Bandwidth; b != nil {
		if b.GlobalBPS != nil && *b.GlobalBPS == 0 {
			return errors.New("bandwidth.global_bps must be positive")
		}
		if err := checkPct("bandwidth.usecase_pct", b.UsecasePct, b.GlobalBPS, "bandwidth.global_bps"); err != nil {
			return err
		}
		if err := checkPct("bandwidth.scope_pct", b.ScopePct, b.GlobalBPS, "bandwidth.global_bps"); err != nil {
			return err
		}
		if b.BurstMillis != nil && *b.BurstMillis > maxBurstMillis {
			return fmt.Errorf("bandwidth.burst_ms must be at most %d", uint64(maxBurstMillis))
		}
	}
	return nil
}

// maxBurstMillis bounds burst_ms (one day) so it fits a time.Duration with room to spare.
const maxBurstMillis = 24 * 60 * 60 * 1000

func checkPct(name string, pct, global *uint64, globalName string) error {
	if pct == nil {
		return nil
	}
	if *pct < 1 || *pct > 100 {
		return fmt.Errorf("%s must be between 1 and 100", name)
	}
	if global == nil {
		return fmt.Errorf("%s needs %s", name, globalName)
	}
	return nil
}

// pctOf returns pct percent of global, rounded down but at least 1, so that a bucket always
// refills. objectstore truncates to 0 here, which makes a bucket that never refills.
func pctOf(global, pct uint64) float64 {
	v := float64(global) * float64(pct) / 100
	if v < 1 {
		v = 1
	}
	return math.Floor(v)
}
