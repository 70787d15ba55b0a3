package s3relay_test

import (
	"encoding/json"
	"testing"

	"github.com/tenantry/tenantry/internal/s3relay"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	rec := func(key string) string {
		return `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":` + jsonString(key) + `,"sequencer":"1"}}}]}`
	}
	for _, tc := range []struct {
		name, in, wantKey string
		wantNil, wantErr  bool
	}{
		{name: "test event", in: `{"Bucket":"x","Event":"s3:TestEvent"}`, wantNil: true},
		{name: "plain key", in: rec("t/d/a.txt"), wantKey: "t/d/a.txt"},
		{name: "space and plus", in: rec("t/doc 1/a+b.txt"), wantKey: "t/doc+1/a%2Bb.txt"},
		{name: "unicode", in: rec("t/d/résumé.md"), wantKey: "t/d/r%C3%A9sum%C3%A9.md"},
		{name: "not json", in: `{`, wantErr: true},
		{name: "no records", in: `{"Records":[]}`, wantErr: true},
		{name: "record without key", in: `{"Records":[{"s3":{}}]}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := s3relay.Normalize([]byte(tc.in))
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantNil != (out == nil) && !tc.wantErr {
				t.Fatalf("out = %s, want nil %v", out, tc.wantNil)
			}
			if tc.wantKey == "" {
				return
			}
			var got struct {
				Records []struct {
					S3 struct {
						Object struct{ Key string } `json:"object"`
					} `json:"s3"`
				}
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if k := got.Records[0].S3.Object.Key; k != tc.wantKey {
				t.Fatalf("key %q, want %q", k, tc.wantKey)
			}
		})
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func FuzzNormalize(f *testing.F) {
	f.Add(`{"Records":[{"s3":{"object":{"key":"a b/c+d"}}}]}`)
	f.Add(`{"Event":"s3:TestEvent"}`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := s3relay.Normalize([]byte(in))
		if err != nil || out == nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %s", out)
		}
	})
}
