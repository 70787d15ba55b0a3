package event_test

import (
	"bytes"
	"testing"

	"github.com/tenantry/tenantry/internal/event"
)

// FuzzDecode feeds arbitrary bodies (seeded from the table cases) to the
// decoder: it must never panic, errors must carry a reason code, decoded
// keys must round-trip through EncodeKey, and a job's Raw must be bytes of
// the body.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases() {
		if len(tc.body) > 16<<10 {
			continue // the size-limit cases: big seeds only slow the fuzzer down
		}
		f.Add([]byte(tc.body), tc.attrs[event.AttrEnvelope], tc.attrs != nil)
	}
	f.Fuzz(func(t *testing.T, body []byte, env string, envAttr bool) {
		var attrs map[string]string
		if envAttr {
			attrs = map[string]string{event.AttrEnvelope: env}
		}
		evs, err := event.Decode(body, attrs)
		if err != nil {
			if event.ReasonOf(err) == "" {
				t.Fatalf("error without a reason code: %v", err)
			}
			if evs != nil {
				t.Fatalf("events and an error")
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("no events and no error")
		}
		for _, ev := range evs {
			switch ev.Kind {
			case event.KindObjectCreated, event.KindObjectRemoved, event.KindObjectTagged:
				if ev.Object == nil || ev.Object.Key == "" || ev.Object.Bucket == "" {
					t.Fatalf("object event without bucket or key: %+v", ev)
				}
				back, err := event.DecodeKey(event.EncodeKey(ev.Object.Key))
				if err != nil || back != ev.Object.Key {
					t.Fatalf("key %q does not round-trip: %q, %v", ev.Object.Key, back, err)
				}
				if ev.Object.Sequencer != "" && !event.ValidSequencer(ev.Object.Sequencer) {
					t.Fatalf("invalid sequencer %q", ev.Object.Sequencer)
				}
			case event.KindJob:
				j := ev.Job
				if j == nil || !bytes.Contains(body, j.Raw) || len(j.Raw) == 0 {
					t.Fatalf("job Raw is not part of the body: %+v", j)
				}
				if j.Action() == "" || j.Envelope == "" {
					t.Fatalf("job without action or envelope: %+v", j)
				}
				if envAttr && (j.EnvelopeFrom != event.EnvelopeInAttribute || !bytes.Equal(j.Raw, body) || j.Envelope != env) {
					t.Fatalf("attribute envelope: %+v", j)
				}
			case event.KindIgnore:
				if ev.Ignore == "" {
					t.Fatal("ignore without a reason")
				}
			default:
				t.Fatalf("unknown kind %v", ev.Kind)
			}
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{"red+flower.jpg", "c%2B%2B.pdf", "%", "%E9", "t/d/r%C3%A9sum%C3%A9.docx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := event.DecodeKey(s)
		if err != nil {
			return
		}
		back, err := event.DecodeKey(event.EncodeKey(k))
		if err != nil || back != k {
			t.Fatalf("%q: %q does not round-trip (%q, %v)", s, k, back, err)
		}
	})
}
