package event_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/event"
)

func TestSplitRecords(t *testing.T) {
	t.Parallel()
	rec := func(key string) string {
		return `{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-02T03:04:05.678Z",` +
			`"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"docs","arn":"arn:aws:s3:::docs"},` +
			`"object":{"key":"` + key + `","size":11,"sequencer":"0A"}}}`
	}
	two := `{"Records":[` + rec("a/d/1.txt") + `,` + rec("b/d/2.txt") + `]}`
	sns := `{"Type":"Notification","MessageId":"x","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":` +
		strings.ReplaceAll(`"`+strings.ReplaceAll(two, `"`, `\"`)+`"`, "\n", "") + `}`
	for _, tc := range []struct {
		name string
		body string
		keys []string
		err  bool
	}{
		{"direct, two records", two, []string{"a/d/1.txt", "b/d/2.txt"}, false},
		{"through SNS", sns, []string{"a/d/1.txt", "b/d/2.txt"}, false},
		{"one record", `{"Records":[` + rec("a/d/1.txt") + `]}`, []string{"a/d/1.txt"}, false},
		{"a job is not split", `{"envelope":"x","job":{"type":"delete"}}`, nil, true},
		{"an SNS message without records", `{"Type":"Notification","Message":"{\"Event\":\"s3:TestEvent\"}"}`, nil, true},
		{"records not an array", `{"Records":{}}`, nil, true},
		{"empty records", `{"Records":[]}`, nil, true},
		{"not JSON", `{`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parts, err := event.SplitRecords([]byte(tc.body))
			if tc.err {
				if err == nil {
					t.Fatalf("split %d parts, want an error", len(parts))
				}
				return
			}
			if err != nil || len(parts) != len(tc.keys) {
				t.Fatalf("%d parts, %v", len(parts), err)
			}
			for i, p := range parts {
				evs, err := event.Decode(p, nil)
				if err != nil || len(evs) != 1 || evs[0].Object.Key != tc.keys[i] {
					t.Fatalf("part %d: %v %v", i, evs, err)
				}
			}
		})
	}
	if _, err := event.SplitRecords([]byte(`{"hello":1}`)); !errors.Is(err, event.ErrNotSplittable) {
		t.Fatalf("err = %v", err)
	}
}

// FuzzSplitRecords: for any body the decoder accepts as records, the parts
// decode to exactly the events of the whole, one each, in order (the shape
// aside); nothing panics.
func FuzzSplitRecords(f *testing.F) {
	for _, tc := range decodeCases() {
		if len(tc.body) > 16<<10 {
			continue
		}
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := event.SplitRecords(body)
		evs, derr := event.Decode(body, nil)
		if err != nil || derr != nil {
			return
		}
		if len(parts) != len(evs) {
			t.Fatalf("%d parts for %d events", len(parts), len(evs))
		}
		for i, p := range parts {
			got, err := event.Decode(p, nil)
			if err != nil || len(got) != 1 {
				t.Fatalf("part %d: %d events, %v", i, len(got), err)
			}
			got[0].Shape = evs[i].Shape
			if !reflect.DeepEqual(got[0], evs[i]) {
				t.Fatalf("part %d decodes to %+v, the whole to %+v", i, got[0], evs[i])
			}
		}
	})
}
