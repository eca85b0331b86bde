package tiered

// regression names one of the bugs fixed by issue 9 (protocol safety beyond crash-stop).
// A Store with regress set behaves as the old code did at that one place, so that the
// regression tests and the simulator can show that they catch it. Only tests set it (see
// export_test.go); it is zero everywhere else.
type regression uint8

const (
	regressNone regression = iota
	// regressLeaseNotFence (bug 1): the lease is checked before the compare-and-write, but
	// the write carries no deadline, so a stalled one lands after recovery took over; and
	// recovery settles an interrupted upload at once.
	regressLeaseNotFence
	// regressExpiryIsLoss (bug 2): a compare-and-write that fails because the replaced
	// tombstone expired is taken for a lost race.
	regressExpiryIsLoss
	// regressRecommit (bug 3): a retried multipart complete commits its revision again after
	// an earlier attempt committed it.
	regressRecommit
	// regressRetriedCASFalse (bug 4): a backend's retried compare-and-write reports a lost
	// race after an earlier attempt whose response was lost. It lives in the backends (the
	// simulator's backend models it); the Store only carries the switch.
	regressRetriedCASFalse
	// regressCompleteErrorRemoves (bug 5): a CompleteError removes the complete's shared
	// change-log entry.
	regressCompleteErrorRemoves
	// regressRecoveryIgnoresGrace (bug 6): recovery claims finished entries before their
	// cleanup is due and deletes their revisions at once.
	regressRecoveryIgnoresGrace
	// regressInvertedRange (bug 7): an inverted byte range reaches a slice expression.
	regressInvertedRange
	// regressFrozenHeartbeat: heartbeats stop renewing the lease (the heartbeat test's
	// proof that it can fail).
	regressFrozenHeartbeat
	// regressForeignEntry (issue 10): a multipart complete takes over whatever change-log
	// entry its upload id's revision UUID names, even one of another object's upload.
	regressForeignEntry
	// regressAbortForeignUpload (issue 10): cleanup aborts the upload an entry names without
	// checking that the upload writes a revision of the entry's own object.
	regressAbortForeignUpload
)
