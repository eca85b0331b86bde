// Package cli is the strata command line client as a library: Run executes one command
// line against a Strata (or objectstore) server through the Go SDK (functions/client), and
// the strata binary dispatches its client subcommands to it.
//
// # Commands
//
//	strata put KEY FILE|-        upload FILE (or standard input) to KEY; an empty KEY ('')
//	                             lets the server choose one; prints the key
//	strata get KEY [FILE|-]      download KEY to FILE (written atomically) or standard output
//	strata head KEY              print KEY's metadata
//	strata rm KEY...             delete keys
//	strata presign KEY           print a pre-signed GET URL for KEY
//	strata token                 print a signed token for --usecase and --scope
//	strata keygen FILE           write a new Ed25519 key pair: FILE (private) and FILE.pub
//	strata scan-keys             list stored keys Strata cannot serve (below)
//	strata status                the change-log backlog, the last recovery run and the
//	                             dead-letter depth (status.go; --json, --watch INTERVAL)
//	strata help                  show this help
//
// Flags may come before or after the arguments; "--" ends them. The connection flags are
//
//	--url URL          the server (default $STRATA_URL, else http://127.0.0.1:8888)
//	--usecase NAME     the usecase (default $STRATA_USECASE)
//	--scope NAME=VALUE a scope, repeatable, in order
//	--key-file PATH    Ed25519 private key (PEM) to sign a token per request
//	                   (default $STRATA_KEY_FILE)
//	--kid ID           the key's id on the server (default $STRATA_KID)
//	--token TOKEN      a ready-made token instead (default $STRATA_TOKEN)
//	--json             print results (and errors) as one JSON document on standard output
//
// A progress bar is drawn on standard error for transfers of 1 MiB or more when standard
// error is a terminal.
//
// # Exit codes
//
// Scripts can rely on these:
//
//	0  success
//	1  any other failure: server errors (5xx, 429 after retries), network, local files
//	2  usage: bad flags or arguments, a key, usecase or scope the server would refuse,
//	   a missing signing key
//	3  not found (404)
//	4  authentication or authorization (401, 403, or a 400 auth error such as a missing
//	   token; a HEAD answer carries no body, so a missing token on head exits 5)
//	5  the server rejected the request as invalid (any other 4xx, such as 400, 413 or 416)
//	6  scan-keys found stored keys that Strata cannot serve
//
// objectstore's API has no conditional requests, so there is no conflict code.
//
// # scan-keys
//
// scan-keys is for operators before a cutover from objectstore: objectstore validates only
// scopes, so its table may hold rows at keys Strata refuses. It reads storage directly (not
// through a server), with runtime.ScanKeys: every row key of the Bigtable objects table
// (--project, --instance, --table, defaulting to $STRATA_BIGTABLE_*; BIGTABLE_EMULATOR_HOST
// selects an emulator), and with --bucket every object name of the bucket (revisions are
// judged by their logical path; STORAGE_EMULATOR_HOST selects an emulator). For each key
// Strata cannot serve it prints the source, the class and the name (quoted), then one line
// per rule broken (object.Rule and Validate's message):
//
//	bigtable	deployed-path	"attachments/org.17/objects/a//b"
//		key-empty-segment: invalid argument: key has an empty path segment
//	scanned 16 rows of table objectstore: 1 keys Strata cannot serve (1 cannot travel the deployed HTTP path, 0 refused by Strata's own limits)
//
// The class is deployed-path when no request through the deployed HTTP path reaches the
// object (object.Rule.DeployedPath), strata-limit when the request arrives and Strata's own
// limits refuse it. --json prints one document with the counts and the keys instead. The
// exit code is 0 when nothing was found, 6 when something was, 1 when the scan failed.
package cli
