package logging

// Lines written without slog: a hot path (the request log line) appends its fields as JSON
// into a pooled []byte instead of building slog attributes for slog's JSON handler. The
// bytes must be exactly what the handler would have written for the same record, time
// aside; line_test.go compares the two.

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Line is one log line being appended to: fields are added in order, and End writes it.
// Groups nest with OpenGroup and CloseGroup. A Line must not be used after End.
type Line struct {
	b   []byte
	h   *handler
	lvl slog.Level
	// comma is whether the next field needs a separating comma.
	comma bool
}

var linePool = sync.Pool{New: func() any { return &Line{b: make([]byte, 0, 1024)} }}

// StartLine starts a line of level and msg, timestamped now, for logger l. It returns nil
// when l does not log level, and when l is not a logger of New or NewBuffered without
// attributes or groups added by With or WithGroup: the caller then logs through l as usual.
func StartLine(ctx context.Context, l *slog.Logger, level slog.Level, msg string) *Line {
	h, ok := l.Handler().(*handler)
	if !ok || h.derived || !h.Enabled(ctx, level) {
		return nil
	}
	ln := linePool.Get().(*Line)
	ln.h, ln.lvl, ln.comma = h, level, true
	b := append(ln.b[:0], `{"time":"`...)
	b = time.Now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","severity":"`...)
	b = append(b, severity(level)...)
	b = append(b, `","message":`...)
	ln.b = appendJSONString(b, msg)
	return ln
}

func (ln *Line) key(k string) {
	if ln.comma {
		ln.b = append(ln.b, ',')
	}
	ln.b = appendJSONString(ln.b, k)
	ln.b = append(ln.b, ':')
	ln.comma = true
}

// String adds a string field.
func (ln *Line) String(k, v string) {
	ln.key(k)
	ln.b = appendJSONString(ln.b, v)
}

// Int adds an integer field.
func (ln *Line) Int(k string, v int64) {
	ln.key(k)
	ln.b = strconv.AppendInt(ln.b, v, 10)
}

// Bool adds a boolean field.
func (ln *Line) Bool(k string, v bool) {
	ln.key(k)
	ln.b = strconv.AppendBool(ln.b, v)
}

// Float adds a number field, formatted as encoding/json formats a float64 (as slog's JSON
// handler does). v must be finite.
func (ln *Line) Float(k string, v float64) {
	ln.key(k)
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(ln.b, v, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	ln.b = b
}

// OpenGroup starts a group field: the fields up to CloseGroup are its members.
func (ln *Line) OpenGroup(k string) {
	ln.key(k)
	ln.b = append(ln.b, '{')
	ln.comma = false
}

// CloseGroup ends the innermost open group.
func (ln *Line) CloseGroup() {
	ln.b = append(ln.b, '}')
	ln.comma = true
}

// End writes the line in one write, as slog's handler would (so through NewBuffered's
// Buffer, and flushed at once at WARNING and above), and returns the Line to its pool.
func (ln *Line) End() error {
	ln.b = append(ln.b, '}', '\n')
	_, err := ln.h.out.Write(ln.b)
	if ln.h.buf != nil && ln.lvl >= slog.LevelWarn {
		if ferr := ln.h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	ln.h = nil
	if cap(ln.b) <= 16<<10 { // a huge line's buffer is not kept
		linePool.Put(ln)
	}
	return err
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string, escaped exactly as slog's JSON
// handler escapes (encoding/json without HTML escaping): '"', '\\' and bytes below 0x20
// escaped, invalid UTF-8 replaced by \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
