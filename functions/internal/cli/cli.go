package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// Exit codes of Run; the package documentation says when each is used.
const (
	// ExitOK is success.
	ExitOK = 0
	// ExitError is any failure without a code of its own: server errors, network, files.
	ExitError = 1
	// ExitUsage is a command line mistake, or input the server would refuse.
	ExitUsage = 2
	// ExitNotFound is a missing object (404).
	ExitNotFound = 3
	// ExitAuth is an authentication or authorization failure (401, 403, auth 400).
	ExitAuth = 4
	// ExitRejected is any other request the server refused as invalid (4xx).
	ExitRejected = 5
	// ExitUnservable is scan-keys' answer when it found stored keys Strata cannot serve.
	ExitUnservable = 6
)

// DefaultURL is the server when neither --url nor $STRATA_URL says otherwise.
const DefaultURL = "http://127.0.0.1:8888"

// Help is the text of `strata help`.
const Help = `usage: strata <command> [flags] [arguments]

client commands:
  put KEY FILE|-       upload FILE (- for standard input) to KEY; '' lets the server pick the key
  get KEY [FILE|-]     download KEY to FILE, or to standard output
  head KEY             show KEY's metadata
  rm KEY...            delete keys
  presign KEY          print a pre-signed GET URL (--expires, default 1h)
  token                print a signed token (--perm, --expires)
  keygen FILE          write a new Ed25519 key pair: FILE (private, 0600) and FILE.pub

operator commands (they read storage directly, not through a server):
  scan-keys            list the rows of a Bigtable objects table (and, with --bucket, the
                       objects of a GCS bucket) whose keys Strata cannot serve, each with
                       the rules it breaks, classed "deployed-path" (no request through the
                       deployed HTTP path reaches it) or "strata-limit" (the request arrives
                       and Strata's own limits refuse it); then a summary line.
                       --project, --instance, --table ($STRATA_BIGTABLE_*; table default
                       objectstore), --bucket; BIGTABLE_EMULATOR_HOST and
                       STORAGE_EMULATOR_HOST select emulators; --json for one document
  status               the change-log backlog (by phase and age, the oldest entry), the
                       last recovery run (when, how long, outcome, counts, by whom; flagged
                       OVERDUE past 3 recovery intervals) and, deployed, the cleanup
                       dead-letter depth from Cloud Monitoring. Reads the storage the
                       STRATA_* configuration selects, as the server does; a local data
                       directory held by a running server is read through its admin
                       listener (GET /internal/status). --json, --watch INTERVAL,
                       --recover-interval, --admin-url, --project,
                       --dead-letter-subscription

connection flags (any client command):
  --url URL            server URL (default $STRATA_URL, else http://127.0.0.1:8888)
  --usecase NAME       usecase (default $STRATA_USECASE)
  --scope NAME=VALUE   scope, repeatable, in order
  --key-file PATH      Ed25519 private key PEM; signs a token per request ($STRATA_KEY_FILE)
  --kid ID             the key's id on the server ($STRATA_KID)
  --token TOKEN        a ready-made token instead ($STRATA_TOKEN)
  --json               print the result, or the error, as JSON on standard output

'strata <command> -h' lists a command's own flags.

exit codes:
  0  success
  1  other failure: server error, network, local file
  2  usage error, or a key, usecase or scope the server would refuse
  3  not found
  4  authentication or authorization failed (401, 403, auth 400)
  5  the server rejected the request as invalid (other 4xx)
  6  scan-keys found keys Strata cannot serve (1: the scan itself failed)
`

// Run executes one strata client command line (args without the program name) and returns
// its exit code. It reads the STRATA_* environment variables for flag defaults.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&app{ctx: ctx, getenv: os.Getenv, stdin: stdin, stdout: stdout, stderr: stderr}).run(args)
}

// app is one invocation.
type app struct {
	ctx            context.Context
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	// httpClient, when set, replaces the SDK's default (tests).
	httpClient *http.Client
	// now and deadLetter, when set, replace the clock and the Cloud Monitoring read of
	// `strata status` (tests).
	now        func() time.Time
	deadLetter deadLetterFunc
}

// command is one subcommand.
type command struct {
	name, args, summary string
	// conn says whether the command takes the connection flags.
	conn bool
	// flags adds the command's own flags; run executes it with the positional arguments.
	flags func(fs *flag.FlagSet) func(a *app, c *conn, pos []string) error
}

var commands = []command{
	{name: "put", args: "KEY FILE|-", summary: "upload a file or standard input", conn: true, flags: putFlags},
	{name: "get", args: "KEY [FILE|-]", summary: "download an object", conn: true, flags: getFlags},
	{name: "head", args: "KEY", summary: "show an object's metadata", conn: true, flags: headFlags},
	{name: "rm", args: "KEY...", summary: "delete objects", conn: true, flags: rmFlags},
	{name: "presign", args: "KEY", summary: "print a pre-signed GET URL", conn: true, flags: presignFlags},
	{name: "token", args: "", summary: "print a signed token", conn: true, flags: tokenFlags},
	{name: "keygen", args: "FILE", summary: "write a new Ed25519 key pair", flags: keygenFlags},
	{name: "scan-keys", args: "", summary: "list stored keys that Strata cannot serve, read directly from Bigtable (and GCS)", flags: scanKeysFlags},
	{name: "status", args: "", summary: "show the change-log backlog, the last recovery run and the dead-letter depth", flags: statusFlags},
}

func (a *app) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, Help)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, Help)
		return ExitOK
	}
	for _, cmd := range commands {
		if cmd.name == name {
			return a.runCommand(cmd, rest)
		}
	}
	fmt.Fprintf(a.stderr, "strata: unknown command %q\n\n%s", name, Help)
	return ExitUsage
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func (a *app) runCommand(cmd command, args []string) int {
	fs := flag.NewFlagSet("strata "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	var c conn
	if cmd.conn {
		c.register(fs, a.getenv)
	} else {
		fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	}
	exec := cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: strata %s [flags] %s\n\n%s.\n\nflags:\n", cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return ExitUsage // the flag package has printed the error and the usage
	}
	err = exec(a, &c, pos)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if c.json && code != ExitUnservable { // scan-keys has printed its document

		a.printJSONError(err, code)
	}
	fmt.Fprintf(a.stderr, "strata %s: %v\n", cmd.name, err)
	if code == ExitUsage {
		fmt.Fprintf(a.stderr, "run 'strata %s -h' for usage\n", cmd.name)
	}
	return code
}

// parseInterleaved parses flags that may appear before, between and after positional
// arguments, and returns the positional ones. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// exitCode classifies an error.
func exitCode(err error) int {
	var ue *usageError
	var se *client.Error
	switch {
	case errors.As(err, &ue), errors.Is(err, client.ErrInvalidArgument):
		return ExitUsage
	case errors.As(err, new(*unservableFound)):
		return ExitUnservable
	case client.IsNotFound(err):
		return ExitNotFound
	case client.IsAuth(err):
		return ExitAuth
	case errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusTooManyRequests:
		return ExitRejected
	}
	return ExitError
}

// printJSONError prints {"error":{"message":...,"status":...,"detail":...,"exit_code":...}}.
func (a *app) printJSONError(err error, code int) {
	doc := struct {
		Message  string `json:"message"`
		Status   int    `json:"status,omitempty"`
		Code     string `json:"code,omitempty"`
		Detail   string `json:"detail,omitempty"`
		ExitCode int    `json:"exit_code"`
	}{Message: err.Error(), ExitCode: code}
	var se *client.Error
	if errors.As(err, &se) {
		doc.Status, doc.Code, doc.Detail = se.Status, se.Code, se.Detail
	}
	a.printJSON(map[string]any{"error": doc})
}

// printJSON writes v as one line of JSON to standard output.
func (a *app) printJSON(v any) {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// conn holds the connection flags.
type conn struct {
	url, usecase, keyFile, kid, token string
	scopes                            scopeFlag
	json                              bool
}

// scopeFlag collects repeated --scope NAME=VALUE flags in order.
type scopeFlag []client.Scope

func (s *scopeFlag) String() string {
	parts := make([]string, len(*s))
	for i, sc := range *s {
		parts[i] = sc.Name + "=" + sc.Value
	}
	return strings.Join(parts, ";")
}

func (s *scopeFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" || value == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	*s = append(*s, client.Scope{Name: name, Value: value})
	return nil
}

func (c *conn) register(fs *flag.FlagSet, getenv func(string) string) {
	url := getenv("STRATA_URL")
	if url == "" {
		url = DefaultURL
	}
	fs.StringVar(&c.url, "url", url, "server URL ($STRATA_URL)")
	fs.StringVar(&c.usecase, "usecase", getenv("STRATA_USECASE"), "usecase ($STRATA_USECASE)")
	fs.Var(&c.scopes, "scope", "scope `NAME=VALUE`, repeatable, in order")
	fs.StringVar(&c.keyFile, "key-file", getenv("STRATA_KEY_FILE"), "Ed25519 private key PEM that signs a token per request ($STRATA_KEY_FILE)")
	fs.StringVar(&c.kid, "kid", getenv("STRATA_KID"), "the signing key's id on the server ($STRATA_KID)")
	fs.StringVar(&c.token, "token", getenv("STRATA_TOKEN"), "a ready-made token ($STRATA_TOKEN)")
	fs.BoolVar(&c.json, "json", false, "print the result, or the error, as JSON")
}

// loadKey reads the --key-file private key, or returns nil when none is configured.
func (c *conn) loadKey() (ed25519.PrivateKey, error) {
	if c.keyFile == "" {
		return nil, nil
	}
	if c.kid == "" {
		return nil, usagef("--key-file needs --kid (or $STRATA_KID): the key's id on the server")
	}
	b, err := os.ReadFile(c.keyFile)
	if err != nil {
		return nil, err
	}
	priv, err := client.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.keyFile, err)
	}
	return priv, nil
}

// session builds the SDK session of the connection flags.
func (a *app) session(c *conn, opts ...client.Option) (*client.Session, error) {
	if c.usecase == "" {
		return nil, usagef("--usecase (or $STRATA_USECASE) is required")
	}
	priv, err := c.loadKey()
	if err != nil {
		return nil, err
	}
	opts = append(opts, client.WithUserAgent("strata-cli/1"))
	switch {
	case priv != nil:
		opts = append(opts, client.WithSigningKey(priv, c.kid))
	case c.token != "":
		opts = append(opts, client.WithToken(c.token))
	}
	if a.httpClient != nil {
		opts = append(opts, client.WithHTTPClient(a.httpClient))
	}
	cl, err := client.New(c.url, opts...)
	if err != nil {
		return nil, usagef("--url: %v", err)
	}
	s := cl.Usecase(c.usecase).Scopes(c.scopes...)
	return s, s.Err()
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, min, max int, what string) error {
	if len(pos) < min || max >= 0 && len(pos) > max {
		return usagef("want %s, got %d argument(s)", what, len(pos))
	}
	return nil
}

// parseDuration accepts Go durations ("90m", "1h30m") and whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int64
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && fmt.Sprint(n) == d && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usagef("invalid duration %q: want e.g. 90s, 1h30m or 7d", s)
	}
	return d, nil
}

// durationFlag is a flag holding a parseDuration value.
type durationFlag struct{ d time.Duration }

func (f *durationFlag) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f *durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}
