package tiered

// Regression numbers for the tests in package tiered_test: 1–7 are issue 9's bugs, 8 makes
// heartbeats stop renewing, 9 and 10 are issue 10's (hostile_test.go).
const (
	BugLeaseNotFence       = int(regressLeaseNotFence)
	BugExpiryIsLoss        = int(regressExpiryIsLoss)
	BugRecommit            = int(regressRecommit)
	BugCompleteErrorRemove = int(regressCompleteErrorRemoves)
	BugRecoveryNoGrace     = int(regressRecoveryIgnoresGrace)
	BugInvertedRange       = int(regressInvertedRange)
	BugFrozenHeartbeat     = int(regressFrozenHeartbeat)
	BugForeignEntry        = int(regressForeignEntry)
	BugAbortForeignUpload  = int(regressAbortForeignUpload)
)

// Regress makes s behave as the old code did at one place (0: none).
func Regress(s *Store, bug int) { s.regress = regression(bug) }
