package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
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
	var res tiered.PutResult
	err = s.permitted(r, func() (err error) {
		res, err = s.store.Put(r.Context(), c.id, md, body)
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
	err := s.permitted(r, func() (err error) {
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
			c.info.err = src.err
		}
		abort(w)
	}
}

// sourceReader remembers a read error, to tell backend failures from client ones.
type sourceReader struct {
	r   io.Reader
	err error
}

// WriteTo hands an in-memory body (an inline object) to w in one write, without io.Copy's
// intermediate buffer. Such a source cannot fail, so any error is the writer's.
func (s *sourceReader) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := s.r.(*bytes.Reader); ok {
		return wt.WriteTo(w)
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
	err := s.permitted(r, func() (err error) {
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
	if err := s.permitted(r, func() error { return s.store.Delete(r.Context(), c.id) }); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
