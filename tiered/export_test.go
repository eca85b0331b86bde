package tiered

// Regression numbers for the tests in package tiered_test: 1–7 are issue 9's bugs, 8 makes
// heartbeats stop renewing.
const (
	BugLeaseNotFence       = int(regressLeaseNotFence)
	BugExpiryIsLoss        = int(regressExpiryIsLoss)
	BugRecommit            = int(regressRecommit)
	BugCompleteErrorRemove = int(regressCompleteErrorRemoves)
	BugRecoveryNoGrace     = int(regressRecoveryIgnoresGrace)
	BugInvertedRange       = int(regressInvertedRange)
	BugFrozenHeartbeat     = int(regressFrozenHeartbeat)
)

// Regress makes s behave as the old code did at one place (0: none).
func Regress(s *Store, bug int) { s.regress = regression(bug) }
