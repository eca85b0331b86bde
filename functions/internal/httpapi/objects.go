package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/object"

	"github.com/google/uuid"

	"github.com/stratastore/strata/functions/internal/auth"
)

// keyResponse is the body of a successful insert.
type keyResponse struct {
	Key string `json:"key"`
}

// writeMetadata parses the metadata headers of a write and checks the usecase's expiration
// constraints, then the permission: objectstore's order, so that a bad header beats a
// missing permission (functions/API.md §1.4).
func (s *Server) writeMetadata(r *http.Request, c *call) (object.Metadata, error) {
	md, herr := parseMetadata(r.Header, s.now())
	if herr != nil {
		return md, herr
	}
	if err := s.checkUsecase(c.octx.Usecase, md.ExpirationPolicy); err != nil {
		return md, err
	}
	return md, c.grant.Authorize(c.octx, auth.Write)
}

// checkUsecase applies the usecase's expiration rules (Options.Usecases) to a write: a
// violation is a 400 "client error: ..." JSON answer, for single writes and batch inserts
// alike.
func (s *Server) checkUsecase(usecase string, p object.ExpirationPolicy) error {
	if err := s.opts.Usecases.Check(usecase, p); err != nil {
		return clientError(object.Reason(err))
	}
	return nil
}

// handlePost stores the body under a new UUID v4 key: 201 {"key":...}.
func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, c *call) {
	c.id.Key = uuid.NewString()
	s.insert(w, r, c, http.StatusCreated)
}

// handlePut stores the body under the path's key: 200 {"key":...}.
func (s *Server) handlePut(w http.ResponseWriter, r *http.Request, c *call) {
	s.insert(w, r, c, http.StatusOK)
}

func (s *Server) insert(w http.ResponseWriter, r *http.Request, c *call, status int) {
	md, err := s.writeMetadata(r, c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body := s.body(r, c)
	// Small bodies are staged in memory before the permit is taken, so that a client
	// trickling its body in holds memory from the budget, never a permit.
	src, staged, err := s.stage(r, body)
	defer staged()
	if err != nil {
		writeError(w, r, body.failed(err))
		return
	}
	if _, inMemory := src.(*bytes.Buffer); !inMemory {
		// The store peeks Threshold+1 bytes to route the body, and the long-term writer
		// buffers a chunk: the upload takes a large-upload slot that counts both.
		peek, err := s.reserveStream(tiered.Threshold + 1)
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer peek()
	}
	permitted := s.permittedStream
	if _, inMemory := src.(*bytes.Buffer); inMemory {
		permitted = s.permitted
	}
	var res tiered.PutResult
	err = permitted(r, c, func() (err error) {
		res, err = s.store.Put(r.Context(), c.id, md, src)
		return err
	})
	if c.info != nil {
		c.info.backend = res.Backend
	}
	if err != nil {
		writeError(w, r, body.failed(err))
		return
	}
	writeJSON(w, status, keyResponse{Key: c.id.Key})
}

// stageChunk is the step in which a body is staged: the budget is charged for what has
// arrived (rounded up to a step), not for what the client declared, so a trickling client
// holds little memory.
const stageChunk = 64 << 10

// stage reads a body of at most tiered.Threshold bytes into memory reserved from the
// budget and returns it as a *bytes.Buffer, which the store takes as is. A body declared
// larger is returned untouched, to stream under a permit. The buffer grows in steps of
// stageChunk as bytes arrive, each step's growth reserved first; a chunked body that turns
// out larger than the threshold is returned as what was staged followed by the rest of the
// body. release gives the memory back once the store is done with it.
func (s *Server) stage(r *http.Request, body io.Reader) (src io.Reader, release func(), err error) {
	var releases []func()
	release = func() {
		for _, f := range releases {
			f()
		}
	}
	if r.ContentLength > tiered.Threshold {
		return body, release, nil
	}
	limit := tiered.Threshold + 1 // chunked: one byte over the threshold tells it is large
	if r.ContentLength >= 0 {
		limit = int(r.ContentLength)
	}
	var buf []byte
	for len(buf) < limit {
		step := min(stageChunk, limit-len(buf))
		if len(buf)+step > cap(buf) {
			grown := slices.Grow(buf, step)
			rel, err := s.reserve(int64(cap(grown) - cap(buf)))
			if err != nil {
				return nil, release, err
			}
			releases = append(releases, rel)
			buf = grown
		}
		n, err := io.ReadFull(body, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF { //nolint:errorlint // io.ReadFull's own sentinels
			return bytes.NewBuffer(buf), release, nil
		}
		if err != nil {
			return nil, release, err
		}
	}
	if r.ContentLength >= 0 {
		return bytes.NewBuffer(buf), release, nil
	}
	return io.MultiReader(bytes.NewReader(buf), body), release, nil
}

// handleGet streams an object, or the requested range of it (functions/API.md §4.3, §7).
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, c *call) {
	v, present := first(r.Header, "Range")
	rng, herr := parseRange(v, present)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	if err := c.grant.Authorize(c.octx, auth.Read); err != nil {
		writeError(w, r, err)
		return
	}
	var obj *object.Reader
	err := s.permitted(r, c, func() (err error) {
		obj, err = s.store.Get(r.Context(), c.id, rng)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer obj.Body.Close()
	h := w.Header()
	setObjectHeaders(h, obj.Metadata)
	status := http.StatusOK
	switch {
	case obj.Range != nil:
		status = http.StatusPartialContent
		h[hdrContentRange] = []string{obj.Range.String()}
		h.Set("Content-Length", strconv.FormatInt(obj.Range.Len(), 10))
	case obj.Metadata.Size >= 0 && obj.Metadata.Size <= tiered.Threshold:
		// Small objects (inline ones, all in memory already) go out in one piece with their
		// length, so a client can tell a cut response from a whole one. Larger ones stream
		// chunked: deployed, Cloud Run caps responses that are not streamed at 32 MiB.
		h.Set("Content-Length", strconv.FormatInt(obj.Metadata.Size, 10))
	}
	w.WriteHeader(status)
	s.stream(w, r, c, obj.Body)
}

// stream copies an object body to the response. A failure of the backend stream after the
// headers went out aborts the connection; a failure to write means the client left.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, c *call, body io.Reader) {
	src := &sourceReader{r: body}
	if _, err := io.Copy(s.out(w, c), src); err != nil && src.err != nil {
		if c.info != nil {
			c.info.err, c.info.aborted = src.err, true
		}
		abort(w)
	}
}

// sourceReader remembers a read error, to tell backend failures from client ones.
type sourceReader struct {
	r   io.Reader
	err error
}

// WriteTo hands an in-memory body (an inline object, *object.BytesReader) to w in one
// write, without io.Copy's 32 KiB intermediate buffer (allocated per request: it was a
// third of the bytes a small GET allocated). Such a source cannot fail, so any error is
// the writer's.
func (s *sourceReader) WriteTo(w io.Writer) (int64, error) {
	switch r := s.r.(type) {
	case *object.BytesReader:
		return r.WriteTo(w)
	case *bytes.Reader:
		return r.WriteTo(w)
	}
	return io.CopyBuffer(w, struct{ io.Reader }{s}, nil)
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// handleHead answers 204 with the object's headers (functions/API.md §4.4). Range is ignored.
func (s *Server) handleHead(w http.ResponseWriter, r *http.Request, c *call) {
	if err := c.grant.Authorize(c.octx, auth.Read); err != nil {
		writeError(w, r, err)
		return
	}
	var md object.Metadata
	err := s.permitted(r, c, func() (err error) {
		md, err = s.store.Head(r.Context(), c.id)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	setObjectHeaders(w.Header(), md)
	w.WriteHeader(http.StatusNoContent)
}

// handleDelete deletes an object: 204, also when it did not exist.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, c *call) {
	if err := c.grant.Authorize(c.octx, auth.Delete); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.permitted(r, c, func() error { return s.store.Delete(r.Context(), c.id) }); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
