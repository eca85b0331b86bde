package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// metaFlag collects repeated --meta NAME=VALUE flags.
type metaFlag map[string]string

func (m metaFlag) String() string { return "" }

func (m metaFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	m[name] = value
	return nil
}

func putFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	var (
		contentType, origin, filename string
		ttl, tti                      durationFlag
		noCompress                    bool
		meta                          = metaFlag{}
	)
	fs.StringVar(&contentType, "content-type", "", "media type (default: from FILE's extension, else the server's application/octet-stream)")
	fs.Var(&ttl, "ttl", "expire the object this long after the write (e.g. 1h, 7d)")
	fs.Var(&tti, "tti", "expire the object this long after its last access")
	fs.StringVar(&origin, "origin", "", "origin metadata")
	fs.StringVar(&filename, "filename", "", "file name metadata (served as content-disposition)")
	fs.Var(meta, "meta", "custom metadata `NAME=VALUE`, repeatable")
	fs.BoolVar(&noCompress, "no-compress", false, "store the bytes uncompressed (default: zstd)")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 2, 2, "KEY and FILE (- for standard input)"); err != nil {
			return err
		}
		key, file := pos[0], pos[1]
		if ttl.d > 0 && tti.d > 0 {
			return usagef("--ttl and --tti exclude each other")
		}
		s, err := a.session(c)
		if err != nil {
			return err
		}
		var opts []client.PutOption
		if contentType == "" && file != "-" {
			contentType = mime.TypeByExtension(filepath.Ext(file))
		}
		if contentType != "" {
			opts = append(opts, client.ContentType(contentType))
		}
		switch {
		case ttl.d > 0:
			opts = append(opts, client.Expires(client.TTL(ttl.d)))
		case tti.d > 0:
			opts = append(opts, client.Expires(client.TTI(tti.d)))
		}
		if origin != "" {
			opts = append(opts, client.Origin(origin))
		}
		if filename != "" {
			opts = append(opts, client.Filename(filename))
		}
		for k, v := range meta {
			opts = append(opts, client.Meta(k, v))
		}
		if noCompress {
			opts = append(opts, client.Compress(false))
		}
		var src io.Reader = a.stdin
		total := int64(-1)
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				total = st.Size()
			}
			src = f
		}
		bar := newProgress(a.stderr, "put "+key, total)
		if bar != nil {
			opts = append(opts, client.Progress(bar.update))
		}
		got, err := s.Put(a.ctx, key, src, opts...)
		bar.finish(err == nil)
		if err != nil {
			return err
		}
		if c.json {
			a.printJSON(map[string]string{"key": got})
		} else {
			fmt.Fprintln(a.stdout, got)
		}
		return nil
	}
}

func getFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	var (
		raw bool
		rng string
	)
	fs.BoolVar(&raw, "raw", false, "write the stored bytes without decompressing them")
	fs.StringVar(&rng, "range", "", "read only bytes `A-B`, A- or -N of the stored payload")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 1, 2, "KEY and an optional FILE"); err != nil {
			return err
		}
		key, file := pos[0], "-"
		if len(pos) == 2 {
			file = pos[1]
		}
		if c.json && file == "-" {
			return usagef("--json needs a FILE: the object itself goes to standard output otherwise")
		}
		var opts []client.GetOption
		if raw {
			opts = append(opts, client.Raw())
		}
		if rng != "" {
			o, err := parseRange(rng)
			if err != nil {
				return err
			}
			opts = append(opts, o)
		}
		s, err := a.session(c)
		if err != nil {
			return err
		}
		obj, err := s.Get(a.ctx, key, opts...)
		if err != nil {
			return err
		}
		defer obj.Body.Close()
		total := int64(-1)
		if obj.Range != nil {
			total = obj.Range.Len()
		}
		bar := newProgress(a.stderr, "get "+key, total)
		n, err := writeOut(a, file, obj.Body, bar)
		bar.finish(err == nil)
		if err != nil {
			return err
		}
		if c.json {
			doc := metadataJSON(key, obj.Metadata)
			doc["bytes"] = n
			doc["file"] = file
			if obj.Range != nil {
				doc["content_range"] = obj.Range.String()
			}
			a.printJSON(doc)
		}
		return nil
	}
}

// parseRange turns "A-B", "A-" or "-N" into a range option.
func parseRange(s string) (client.GetOption, error) {
	first, last, ok := strings.Cut(s, "-")
	a, errA := strconv.ParseInt(first, 10, 64)
	b, errB := strconv.ParseInt(last, 10, 64)
	switch {
	case !ok:
	case first == "" && errB == nil && b > 0:
		return client.RangeLast(b), nil
	case last == "" && errA == nil && a >= 0:
		return client.RangeFrom(a), nil
	case errA == nil && errB == nil && 0 <= a && a <= b:
		return client.Range(a, b), nil
	}
	return nil, usagef("invalid --range %q: want A-B, A- or -N", s)
}

// writeOut copies body to standard output or, atomically, to file, and returns the byte
// count. A file is written under a temporary name and renamed when complete, so a failed
// download never leaves a truncated file behind.
func writeOut(a *app, file string, body io.Reader, bar *progress) (int64, error) {
	if bar != nil {
		body = io.TeeReader(body, bar)
	}
	if file == "-" {
		return io.Copy(a.stdout, body)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".strata-*")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(tmp, body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return n, err
	}
	return n, nil
}

// metadataJSON renders metadata for --json output.
func metadataJSON(key string, md client.Metadata) map[string]any {
	doc := map[string]any{"key": key, "content_type": md.ContentType}
	if md.Compression != "" {
		doc["compression"] = md.Compression
	}
	doc["expiration"] = md.Expiration.String()
	if !md.TimeCreated.IsZero() {
		doc["time_created"] = md.TimeCreated.UTC().Format(time.RFC3339Nano)
	}
	if !md.TimeExpires.IsZero() {
		doc["time_expires"] = md.TimeExpires.UTC().Format(time.RFC3339Nano)
	}
	if md.Origin != "" {
		doc["origin"] = md.Origin
	}
	if md.Filename != "" {
		doc["filename"] = md.Filename
	}
	if len(md.Custom) > 0 {
		doc["custom"] = md.Custom
	}
	return doc
}

func headFlags(*flag.FlagSet) func(*app, *conn, []string) error {
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 1, 1, "KEY"); err != nil {
			return err
		}
		s, err := a.session(c)
		if err != nil {
			return err
		}
		md, err := s.Head(a.ctx, pos[0])
		if err != nil {
			return err
		}
		doc := metadataJSON(pos[0], *md)
		if c.json {
			a.printJSON(doc)
			return nil
		}
		names := make([]string, 0, len(doc))
		for k := range doc {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if k == "custom" {
				continue
			}
			fmt.Fprintf(a.stdout, "%s: %v\n", k, doc[k])
		}
		custom := make([]string, 0, len(md.Custom))
		for k := range md.Custom {
			custom = append(custom, k)
		}
		sort.Strings(custom)
		for _, k := range custom {
			fmt.Fprintf(a.stdout, "meta.%s: %s\n", k, md.Custom[k])
		}
		return nil
	}
}

func rmFlags(*flag.FlagSet) func(*app, *conn, []string) error {
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 1, -1, "one or more KEYs"); err != nil {
			return err
		}
		s, err := a.session(c)
		if err != nil {
			return err
		}
		deleted := []string{}
		for _, key := range pos {
			if err := s.Delete(a.ctx, key); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			deleted = append(deleted, key)
		}
		if c.json {
			a.printJSON(map[string]any{"deleted": deleted})
		}
		return nil
	}
}

func presignFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	expires := durationFlag{time.Hour}
	fs.Var(&expires, "expires", "validity of the URL, at most 7d (default 1h)")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 1, 1, "KEY"); err != nil {
			return err
		}
		if c.keyFile == "" {
			return usagef("presign needs a signing key: --key-file and --kid")
		}
		s, err := a.session(c)
		if err != nil {
			return err
		}
		url, err := s.PresignGet(pos[0], expires.d)
		if err != nil {
			return err
		}
		if c.json {
			a.printJSON(map[string]string{"url": url, "expires": time.Now().Add(expires.d).UTC().Format(time.RFC3339)})
		} else {
			fmt.Fprintln(a.stdout, url)
		}
		return nil
	}
}

func tokenFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	expires := durationFlag{time.Hour}
	perms := "read,write,delete"
	fs.Var(&expires, "expires", "validity of the token (default 1h)")
	fs.StringVar(&perms, "perm", perms, "comma-separated permissions: read, write, delete")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
			return err
		}
		if c.usecase == "" {
			return usagef("--usecase (or $STRATA_USECASE) is required")
		}
		if c.keyFile == "" {
			return usagef("token needs a signing key: --key-file and --kid")
		}
		priv, err := c.loadKey()
		if err != nil {
			return err
		}
		claims := client.Claims{Usecase: c.usecase, Expires: time.Now().Add(expires.d)}
		for p := range strings.SplitSeq(perms, ",") {
			perm, err := client.ParsePermission(strings.TrimSpace(p))
			if err != nil {
				return usagef("--perm: %v", err)
			}
			claims.Permissions = append(claims.Permissions, perm)
		}
		// Scope values may be "*" here: a token can grant every value of a scope.
		if len(c.scopes) > 0 {
			claims.Scopes = map[string]string{}
			for _, sc := range c.scopes {
				claims.Scopes[sc.Name] = sc.Value
			}
		}
		tok, err := client.SignToken(priv, c.kid, claims)
		if err != nil {
			return err
		}
		if c.json {
			a.printJSON(map[string]any{"token": tok, "expires": claims.Expires.UTC().Format(time.RFC3339)})
		} else {
			fmt.Fprintln(a.stdout, tok)
		}
		return nil
	}
}

func keygenFlags(fs *flag.FlagSet) func(*app, *conn, []string) error {
	var force bool
	fs.BoolVar(&force, "force", false, "overwrite existing files")
	return func(a *app, c *conn, pos []string) error {
		if err := wantArgs(pos, 1, 1, "FILE for the private key"); err != nil {
			return err
		}
		privFile := pos[0]
		pubFile := privFile + ".pub"
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		privPEM, pubPEM, err := client.MarshalKeyPairPEM(priv)
		if err != nil {
			return err
		}
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		for _, f := range []struct {
			name string
			data []byte
			mode os.FileMode
		}{{privFile, privPEM, 0o600}, {pubFile, pubPEM, 0o644}} {
			if err := writeFile(f.name, f.data, flags, f.mode); err != nil {
				if errors.Is(err, os.ErrExist) {
					return usagef("%s exists; use --force to overwrite it", f.name)
				}
				return err
			}
		}
		abs, err := filepath.Abs(pubFile)
		if err != nil {
			abs = pubFile
		}
		if c.json {
			a.printJSON(map[string]string{"private_key": privFile, "public_key": pubFile})
			return nil
		}
		fmt.Fprintf(a.stdout, "private key: %s (keep it secret)\npublic key:  %s\n\n", privFile, pubFile)
		fmt.Fprintf(a.stdout, "Trust it on the server as key id KID with\n  STRATA_AUTH_KEYS='{\"KID\":{\"key_files\":[%q],\"max_permissions\":[\"object.read\",\"object.write\",\"object.delete\"]}}'\n", abs)
		fmt.Fprintf(a.stdout, "and sign requests with --key-file %s --kid KID.\n", privFile)
		return nil
	}
}

// writeFile writes data to name, creating it with mode.
func writeFile(name string, data []byte, flags int, mode os.FileMode) error {
	f, err := os.OpenFile(name, flags, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
