package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stratastore/strata/functions/wire"
)

// Batch limits of the server (functions/API.md §8.1, §14).
const (
	// MaxBatchOps is the number of operations one batch request carries; Batch splits
	// longer lists into several requests.
	MaxBatchOps = wire.MaxBatchOps
	// MaxBatchInsert is the largest insert payload (after compression) of a batch.
	MaxBatchInsert = wire.MaxBatchInsert
)

// Batch operation kinds, as the wire names them.
const (
	// KindGet reads an object.
	KindGet = wire.KindGet
	// KindHead reads an object's metadata.
	KindHead = wire.KindHead
	// KindInsert stores an object.
	KindInsert = wire.KindInsert
	// KindDelete deletes an object.
	KindDelete = wire.KindDelete
)

// BatchOp is one operation of a batch request. Build it with BatchGet, BatchHead,
// BatchInsert or BatchDelete.
type BatchOp struct {
	kind string
	key  string
	data []byte
	opts []PutOption
}

// BatchGet reads the object at key.
func BatchGet(key string) BatchOp { return BatchOp{kind: KindGet, key: key} }

// BatchHead reads the metadata of the object at key.
func BatchHead(key string) BatchOp { return BatchOp{kind: KindHead, key: key} }

// BatchDelete deletes the object at key.
func BatchDelete(key string) BatchOp { return BatchOp{kind: KindDelete, key: key} }

// BatchInsert stores data at key (a generated key when key is empty), with the metadata and
// compression of opts. Its payload, after compression, must not exceed MaxBatchInsert.
func BatchInsert(key string, data []byte, opts ...PutOption) BatchOp {
	return BatchOp{kind: KindInsert, key: key, data: data, opts: opts}
}

// BatchResult is the outcome of one operation.
type BatchResult struct {
	// Index is the operation's position in the list given to Batch.
	Index int
	Kind  string
	// Key is the object's key; for an insert without a key, the generated one.
	Key string
	// Status is the operation's HTTP status (0 if it was refused before sending).
	Status int
	// Metadata is set by a successful get or head.
	Metadata *Metadata
	// Body is a get's payload, decompressed when the object is zstd-compressed.
	Body []byte
	// Err is the operation's failure: an *Error (IsNotFound for a missing object of a get
	// or head), or an error wrapping ErrInvalidArgument for an operation refused locally.
	Err error
}

// Batch runs ops in as few requests as the server's limits allow and returns one result
// per operation, in the order of ops. The error is for a request that failed as a whole;
// per-operation failures are in the results. A request is retried only when every
// operation in it is idempotent (gets, heads, deletes and inserts with a key).
func (s *Session) Batch(ctx context.Context, ops []BatchOp) ([]BatchResult, error) {
	if s.err != nil {
		return nil, s.err
	}
	results := make([]BatchResult, len(ops))
	var pending []int
	encoded := make([]*encodedOp, len(ops))
	for i, op := range ops {
		results[i] = BatchResult{Index: i, Kind: op.kind, Key: op.key}
		enc, err := s.encodeOp(op)
		if err != nil {
			results[i].Err = err
			continue
		}
		encoded[i] = enc
		pending = append(pending, i)
	}
	for len(pending) > 0 {
		chunk := pending[:min(len(pending), MaxBatchOps)]
		pending = pending[len(chunk):]
		if err := s.sendBatch(ctx, chunk, encoded, results); err != nil {
			return results, err
		}
	}
	return results, nil
}

// encodedOp is an operation ready to be written as a request part.
type encodedOp struct {
	op         wire.Op
	body       []byte
	idempotent bool
}

// encodeOp validates op and renders its part.
func (s *Session) encodeOp(op BatchOp) (*encodedOp, error) {
	e := &encodedOp{op: wire.Op{Kind: op.kind, Key: op.key}, idempotent: true}
	switch op.kind {
	case KindGet, KindHead, KindDelete:
	case KindInsert:
		e.idempotent = op.key != ""
	default:
		return nil, invalidf("unknown batch operation %q", op.kind)
	}
	if op.key != "" || op.kind != KindInsert {
		if err := s.checkKey(op.key); err != nil {
			return nil, err
		}
	}
	if op.kind == KindInsert {
		p := s.c.putSettings(op.opts)
		if err := p.validate(); err != nil {
			return nil, err
		}
		e.op.Header = p.header()
		e.body = op.data
		if *p.compress {
			e.body = s.c.encoder().EncodeAll(op.data, nil)
		}
		if len(e.body) > MaxBatchInsert {
			return nil, invalidf("batch insert of %d bytes exceeds the limit of %d; use Put", len(e.body), MaxBatchInsert)
		}
	}
	return e, nil
}

// sendBatch sends the operations at indexes idx as one request and fills their results.
func (s *Session) sendBatch(ctx context.Context, idx []int, encoded []*encodedOp, results []BatchResult) error {
	var body bytes.Buffer
	rw := wire.NewRequestWriter(&body)
	retry := true
	for _, i := range idx {
		e := encoded[i]
		retry = retry && e.idempotent
		if err := rw.WriteOp(e.op, e.body); err != nil {
			return err
		}
	}
	if err := rw.Close(); err != nil {
		return err
	}
	payload := body.Bytes()
	res, err := s.c.do(ctx, &request{
		method: http.MethodPost,
		path:   s.path(epBatch, ""),
		header: http.Header{"Content-Type": {rw.ContentType()}},
		body:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil },
		size:   int64(len(payload)),
		retry:  retry,
		scope:  s.tokenScope(),
	})
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return errorFrom(res)
	}
	defer drain(res.Body)
	seen := make([]bool, len(idx))
	if err := s.readBatch(res, func(pos int, r BatchResult) error {
		if pos < 0 || pos >= len(idx) || seen[pos] {
			return fmt.Errorf("client: batch answer has an unexpected operation index %d", pos)
		}
		seen[pos] = true
		i := idx[pos]
		r.Index = i
		if r.Kind == "" {
			r.Kind = results[i].Kind
		}
		if r.Key == "" {
			r.Key = results[i].Key
		}
		results[i] = r
		return nil
	}); err != nil {
		return err
	}
	for pos, ok := range seen {
		if !ok {
			results[idx[pos]].Err = errors.New("client: the batch answer has no result for this operation")
		}
	}
	return nil
}

// readBatch parses a multipart batch answer and calls fn with each part's index and
// result.
func (s *Session) readBatch(res *http.Response, fn func(int, BatchResult) error) error {
	boundary, err := wire.ParseBatchContentType(res.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("client: batch answer has content type %q", res.Header.Get("Content-Type"))
	}
	rr := wire.NewResponseReader(res.Body, boundary)
	for {
		part, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("client: reading the batch answer: %w", err)
		}
		data, err := io.ReadAll(part.Body)
		if err != nil {
			return fmt.Errorf("client: reading the batch answer: %w", err)
		}
		r := BatchResult{Kind: part.Kind, Key: part.Key, Status: part.Status}
		switch {
		case r.Status >= 400:
			e := &Error{Status: r.Status, Body: string(data)}
			var doc struct {
				Detail string `json:"detail"`
			}
			if json.Unmarshal(data, &doc) == nil {
				e.Detail = doc.Detail
			}
			r.Err = e
		case r.Kind == KindGet || r.Kind == KindHead:
			md := metadataFrom(part.Header)
			r.Metadata = &md
			if r.Kind == KindGet {
				r.Body = data
				if md.Compression == CompressionZstd {
					if r.Body, err = s.c.decoder().DecodeAll(data, nil); err != nil {
						r.Err = fmt.Errorf("client: decompressing: %w", err)
					}
					md.Compression = ""
				}
			}
		}
		if err := fn(part.Index, r); err != nil {
			return err
		}
	}
}
