package tiered

import (
	base64pkg "encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stratastore/strata/tiered/object"
)

func testID(key string) object.ID {
	return object.NewID("testing", []object.Scope{{Name: "org", Value: "1"}}, key)
}

// newRevision is a revision from a default Store's id source.
func newRevision(id object.ID) object.ID {
	return (&Store{opts: Options{NewUUID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }}}).newRevision(id)
}

func TestNewRevision_PreservesContextAndPrefixesKey(t *testing.T) {
	id := testID("my-key")
	rev := newRevision(id)
	if !rev.Equal(object.ID{Context: id.Context, Key: rev.Key}) {
		t.Fatalf("context changed: %+v", rev.Context)
	}
	suffix, ok := strings.CutPrefix(rev.Key, "my-key/")
	if !ok {
		t.Fatalf("revision key %q lacks the key prefix", rev.Key)
	}
	u, err := uuid.Parse(suffix)
	if err != nil || u.Version() != 7 {
		t.Fatalf("revision suffix %q is not a UUIDv7: %v", suffix, err)
	}
}

func TestNewRevision_RoundTripsStoragePath(t *testing.T) {
	rev := newRevision(testID("a/b c"))
	got, err := object.ParseStoragePath(rev.StoragePath())
	if err != nil || !got.Equal(rev) {
		t.Fatalf("ParseStoragePath(%q) = %+v, %v", rev.StoragePath(), got, err)
	}
}

func TestNewRevision_IsUnique(t *testing.T) {
	id := testID("k")
	if a, b := newRevision(id), newRevision(id); a.Equal(b) {
		t.Fatalf("two revisions are equal: %s", a)
	}
}

func TestUploadID_RoundTrip(t *testing.T) {
	id := testID("my-key")
	rev := newRevision(id)
	enc := encodeUploadID(uploadToken{Revision: rev.Key, UploadID: "upstream-abc"})
	gotRev, gotU, err := decodeUploadID(id, enc)
	if err != nil || !gotRev.Equal(rev) || gotU != "upstream-abc" {
		t.Fatalf("decode = %v %q %v", gotRev, gotU, err)
	}
	// objectstore's form: base64url without padding over {"revision","upload_id"}.
	if strings.ContainsAny(enc, "=+/") {
		t.Fatalf("upload id %q is not unpadded base64url", enc)
	}
}

func TestUploadID_RejectsForgeries(t *testing.T) {
	id := testID("mine")
	other := newRevision(testID("theirs"))
	sameKeyBadSuffix := "mine/not-a-uuid"
	nested := "mine/" + uuid.Must(uuid.NewV7()).String() + "/x"
	b64 := func(v any) string { b, _ := json.Marshal(v); return encodeRaw(b) }
	cases := map[string]string{
		"empty":           "",
		"not base64":      "!!!",
		"not json":        encodeRaw([]byte("nope")),
		"other key":       encodeUploadID(uploadToken{Revision: other.Key, UploadID: "u"}),
		"bad suffix":      encodeUploadID(uploadToken{Revision: sameKeyBadSuffix, UploadID: "u"}),
		"nested suffix":   encodeUploadID(uploadToken{Revision: nested, UploadID: "u"}),
		"no upload":       encodeUploadID(uploadToken{Revision: newRevision(id).Key}),
		"wrong type":      b64(map[string]int{"revision": 1}),
		"prefix trick":    encodeUploadID(uploadToken{Revision: "min/" + uuid.NewString(), UploadID: "u"}),
		"too long":        strings.Repeat("a", maxUploadIDLen+1),
		"key is revision": encodeUploadID(uploadToken{Revision: "mine", UploadID: "u"}),
	}
	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := decodeUploadID(id, u); !errors.Is(err, object.ErrInvalidArgument) {
				t.Fatalf("decodeUploadID(%q) error = %v, want ErrInvalidArgument", u, err)
			}
		})
	}
}

func TestCleanupTask_JSONCarriesOnlyThePointer(t *testing.T) {
	in := CleanupTask{ChangeID: "0190f7c2-0000-7000-8000-000000000000", Object: "testing/org.1/objects/k"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out CleanupTask
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip of %s: %+v, %v", b, out, err)
	}
	// The old format's fields are ignored, not trusted.
	old := `{"change_id":"c1","id":"testing/org.1/objects/k","old":"testing/org.1/objects/victim","phase":"updated","not_before":"2000-01-01T00:00:00Z"}`
	if err := json.Unmarshal([]byte(old), &out); err != nil || out != (CleanupTask{ChangeID: "c1"}) {
		t.Fatalf("old-format task decoded to %+v, %v", out, err)
	}
	for _, bad := range []string{`{}`, `{"change_id":""}`, `{"change_id":"` + strings.Repeat("x", 129) + `"}`, `{"change_id":1}`} {
		if err := json.Unmarshal([]byte(bad), &out); !errors.Is(err, object.ErrInvalidArgument) {
			t.Errorf("Unmarshal(%s) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestPhase_Names(t *testing.T) {
	for p := PhaseRecorded; p <= PhaseSuperseded; p++ {
		var q Phase
		b, _ := p.MarshalText()
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Fatalf("phase %d: %s → %d, %v", p, b, q, err)
		}
	}
	if Phase(99).String() != "phase(99)" || Phase(99).Final() {
		t.Fatal(Phase(99).String())
	}
	for p, final := range map[Phase]bool{PhaseRecorded: false, PhaseAssembling: false, PhaseWritten: false,
		PhaseAborted: true, PhaseLost: true, PhaseUpdated: true, PhaseUnknown: true, PhaseSuperseded: true} {
		if p.Final() != final {
			t.Errorf("%s.Final() = %v", p, p.Final())
		}
	}
}

func encodeRaw(b []byte) string { return strings.TrimRight(b64url(b), "=") }

func b64url(b []byte) string { return base64RawURL.EncodeToString(b) }

var base64RawURL = base64pkg.RawURLEncoding
