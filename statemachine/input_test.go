package statemachine_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/statemachine"
)

const eventBridgeCreated = `{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created",
"source":"aws.s3","account":"123456789012","time":"2026-11-23T10:00:00Z","region":"us-east-1",
"resources":["arn:aws:s3:::uploads"],"detail":{"version":"0","bucket":{"name":"uploads"},
"object":{"key":"6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d/doc-1/Q3+report%2B.md","size":120,"etag":"b1946ac92492d2347c6235b4d2611184",
"version-id":"IYV3p45BT0ac8hjHg1houSdS1a.Mppz","sequencer":"00617F08299329D189"},
"request-id":"N4N7GDK58NMKJ12R","requester":"123456789012","source-ip-address":"1.2.3.4","reason":"PutObject"}}`

var inputCases = []struct {
	name string
	raw  string
	want statemachine.Input
	ok   bool
}{
	{"start input", `{"bucket":"uploads","key":"t/d/f.md","versionId":"v1","sequencer":"0A","envelope":"a.b.c"}`,
		statemachine.Input{Bucket: "uploads", Key: "t/d/f.md", VersionID: "v1", Sequencer: "0A", Envelope: "a.b.c"}, true},
	{"minimal start input", `{"bucket":"uploads","key":"t/d/f.md"}`, statemachine.Input{Bucket: "uploads", Key: "t/d/f.md"}, true},
	{"EventBridge Object Created (URL-encoded key)", eventBridgeCreated, statemachine.Input{Bucket: "uploads",
		Key: "6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d/doc-1/Q3 report+.md", VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mppz", Sequencer: "00617F08299329D189"}, true},
	{"EventBridge Object Deleted", strings.Replace(eventBridgeCreated, "Object Created", "Object Deleted", 1), statemachine.Input{}, false},
	{"another source", strings.Replace(eventBridgeCreated, `"aws.s3"`, `"aws.ec2"`, 1), statemachine.Input{}, false},
	{"unknown field", `{"bucket":"uploads","key":"k","tenant":"6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d"}`, statemachine.Input{}, false},
	{"no key", `{"bucket":"uploads"}`, statemachine.Input{}, false},
	{"bad bucket", `{"bucket":"a/b","key":"k"}`, statemachine.Input{}, false},
	{"bad sequencer", `{"bucket":"uploads","key":"k","sequencer":"xyz"}`, statemachine.Input{}, false},
	{"array", `[]`, statemachine.Input{}, false},
	{"trailing", `{"bucket":"uploads","key":"k"}{}`, statemachine.Input{}, false},
	{"too large", `{"bucket":"uploads","key":"` + strings.Repeat("k", 70000) + `"}`, statemachine.Input{}, false},
}

func TestParseInput(t *testing.T) {
	t.Parallel()
	for _, tc := range inputCases {
		got, err := statemachine.ParseInput([]byte(tc.raw))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, statemachine.ErrBadInput) {
				t.Errorf("%s: %v does not wrap ErrBadInput", tc.name, err)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		// An Input round-trips through its JSON.
		again, err := statemachine.ParseInput([]byte(got.JSON()))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%s: round trip %+v, %v", tc.name, again, err)
		}
	}
}

func FuzzParseInput(f *testing.F) {
	for _, tc := range inputCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := statemachine.ParseInput(raw)
		if err != nil {
			return
		}
		if err := in.Check(); err != nil {
			t.Fatalf("accepted an input that fails Check: %v", err)
		}
		again, err := statemachine.ParseInput([]byte(in.JSON()))
		if err != nil || !reflect.DeepEqual(again, in) {
			t.Fatalf("round trip: %+v, %v (from %+v)", again, err, in)
		}
	})
}

// ExampleParseInput reads both shapes a pipeline execution may start with.
func ExampleParseInput() {
	in, _ := statemachine.ParseInput([]byte(`{"bucket":"uploads","key":"6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d/doc-1/notes.md"}`))
	fmt.Println(in.Bucket, in.Key)
	ev, _ := statemachine.ParseInput([]byte(eventBridgeCreated))
	fmt.Println(ev.Key, ev.Sequencer)
	// Output:
	// uploads 6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d/doc-1/notes.md
	// 6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d/doc-1/Q3 report+.md 00617F08299329D189
}

// ExampleSubstitute fills a definition's placeholders, as CloudFormation's
// DefinitionSubstitutions do.
func ExampleSubstitute() {
	def, err := statemachine.Substitute(statemachine.Standard(), map[string]string{
		statemachine.TaskQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/tenantry-sfn-tasks",
		statemachine.BucketName:   "tenantry-uploads",
	})
	fmt.Println(err == nil, strings.Contains(string(def), "${"))
	// Output: true false
}
