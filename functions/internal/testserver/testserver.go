// Package testserver runs a real Strata server in-process for the tests of the Go SDK and
// the CLI: the httpapi handler over a tiered.Store on in-memory backends, on a loopback
// listener, with enforced auth for one generated Ed25519 key.
package testserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/membackend"
)

// KeyID is the key id of the server's signing key.
const KeyID = "test-kid"

// Server is a running in-process Strata.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string
	// Key is the private key whose public half the server trusts as KeyID, with every
	// permission.
	Key ed25519.PrivateKey
	// ReadOnlyKey is trusted as "read-only" with object.read only.
	ReadOnlyKey ed25519.PrivateKey

	ts    *httptest.Server
	store *tiered.Store
}

// Options adjusts the server.
type Options struct {
	// NoAuth serves without authentication.
	NoAuth bool
}

// Start starts a server; Close stops it.
func Start(opts Options) (*Server, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	roPub, roPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	keys := auth.KeyDirectory{
		KeyID:       {Versions: []ed25519.PublicKey{pub}, MaxPermissions: auth.AllPermissions},
		"read-only": {Versions: []ed25519.PublicKey{roPub}, MaxPermissions: []auth.Permission{auth.Read}},
	}
	if opts.NoAuth {
		keys = nil
	}
	verifier, err := auth.NewVerifier(keys, auth.Options{Enforce: !opts.NoAuth})
	if err != nil {
		return nil, err
	}
	mem := membackend.Open(nil)
	store, err := tiered.New(mem.HighVolume(), mem.LongTerm(), mem.ChangeLog(),
		&tiered.Options{GracePeriod: -1})
	if err != nil {
		return nil, err
	}
	srv, err := httpapi.New(store, httpapi.Options{
		Verifier: verifier,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	ts := httptest.NewServer(srv)
	return &Server{URL: ts.URL, Key: priv, ReadOnlyKey: roPriv, ts: ts, store: store}, nil
}

// Close stops the server and drains the store's cleanup work.
func (s *Server) Close() {
	s.ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.store.Close(ctx)
}
