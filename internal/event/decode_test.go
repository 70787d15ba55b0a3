package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/event"
)

const (
	tenant   = "3f1c9a2e-7b4d-4e2a-9c1f-0a1b2c3d4e5f"
	envelope = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJ0aWQiOiIzZjFjIn0.c2lnbmF0dXJl"
)

// record builds one S3 notification record.
func record(name, key string, extra string) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
	"eventTime":"2026-01-02T03:04:05.678Z","eventName":%q,"userIdentity":{"principalId":"AWS:X"},
	"requestParameters":{"sourceIPAddress":"10.0.0.1"},"responseElements":{"x-amz-request-id":"R","x-amz-id-2":"H"},
	"s3":{"s3SchemaVersion":"1.0","configurationId":"cfg","bucket":{"name":"docs-bucket","ownerIdentity":{"principalId":"O"},"arn":"arn:aws:s3:::docs-bucket"},
	"object":{"key":%q,"size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","versionId":"v1","sequencer":"0055AED6DCD90281E5"%s}}}`,
		name, key, extra)
}

func records(rs ...string) string { return `{"Records":[` + strings.Join(rs, ",") + `]}` }

func sns(inner string) string {
	b, _ := json.Marshal(map[string]string{
		"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
		"Subject": "Amazon S3 Notification", "Message": inner, "Timestamp": "2026-01-02T03:04:05.000Z",
		"SignatureVersion": "1", "Signature": "sig", "SigningCertURL": "https://sns/cert.pem", "UnsubscribeURL": "https://sns/u",
	})
	return string(b)
}

func eventBridge(detailType, key, extra string) string {
	return fmt.Sprintf(`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":%q,"source":"aws.s3",
	"account":"111122223333","time":"2021-11-12T00:00:00Z","region":"ca-central-1","resources":["arn:aws:s3:::docs-bucket"],
	"detail":{"version":"0","bucket":{"name":"docs-bucket"},"object":{"key":%q,"size":5,"etag":"b1946ac92492d2347c6235b4d2611184",
	"version-id":"IYV3p45BT0ac8hjHg1houSdS1a.Mro8e","sequencer":"617f08299329d189"},"request-id":"N4N7GDK58NMKJ12R",
	"requester":"123456789012","source-ip-address":"1.2.3.4","reason":"PutObject"%s}}`, detailType, key, extra)
}

const testEvent = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-02T03:04:05.000Z","Bucket":"docs-bucket","RequestId":"R","HostId":"H"}`

func jobBody(job string) string { return `{"envelope":"` + envelope + `","job":` + job + `}` }

var eventTime = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func s3Object(name, key string) *event.Object {
	return &event.Object{
		Bucket: "docs-bucket", Key: key, Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e", VersionID: "v1",
		Sequencer: "0055AED6DCD90281E5", EventName: name, EventTime: eventTime, Region: "us-east-1",
	}
}

func ebObject(detailType, key string) *event.Object {
	return &event.Object{
		Bucket: "docs-bucket", Key: key, Size: 5, ETag: "b1946ac92492d2347c6235b4d2611184",
		VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", Sequencer: "617f08299329d189", EventName: detailType,
		Reason: "PutObject", EventTime: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC), Region: "ca-central-1",
	}
}

type decodeCase struct {
	name   string
	body   string
	attrs  map[string]string
	want   []event.Event // on success
	reason string        // on failure
}

func decodeCases() []decodeCase {
	key := tenant + "/doc-1/red flower+1.pdf"
	encKey := tenant + "/doc-1/red+flower%2B1.pdf"
	removed := s3Object("ObjectRemoved:DeleteMarkerCreated", key)
	removed.DeleteMarker = true
	ebDeleted := ebObject("Object Deleted", key)
	ebDeleted.Reason = "DeleteObject"
	ebDeleted.DeleteMarker = true
	ebDeletedPermanently := ebObject("Object Deleted", key)
	ebDeletedPermanently.Reason = "DeleteObject"
	unicodeKey := tenant + "/doc-2/résumé 2026 (final).docx"

	ingest := `{"type":"ingest", "bucket":"docs-bucket", "key":"` + tenant + `/doc-1/a b+c.md", "document_id":"doc-1", "extra":{"k":[1,2]}}`
	return []decodeCase{
		// S3 notifications sent to SQS directly.
		{name: "s3 put", body: records(record("ObjectCreated:Put", encKey, "")),
			want: []event.Event{{Kind: event.KindObjectCreated, Shape: event.ShapeS3, Object: s3Object("ObjectCreated:Put", key)}}},
		{name: "s3 percent-encoded unicode key", body: records(record("ObjectCreated:CompleteMultipartUpload", event.EncodeKey(unicodeKey), "")),
			want: []event.Event{{Kind: event.KindObjectCreated, Shape: event.ShapeS3, Object: s3Object("ObjectCreated:CompleteMultipartUpload", unicodeKey)}}},
		{name: "s3 encoded slashes", body: records(record("ObjectCreated:Copy", strings.ReplaceAll(encKey, "/", "%2F"), "")),
			want: []event.Event{{Kind: event.KindObjectCreated, Shape: event.ShapeS3, Object: s3Object("ObjectCreated:Copy", key)}}},
		{name: "s3 multi-record", body: records(
			record("ObjectCreated:Put", encKey, ""),
			record("ObjectRemoved:Delete", encKey, ""),
			record("ObjectRemoved:DeleteMarkerCreated", encKey, "")),
			want: []event.Event{
				{Kind: event.KindObjectCreated, Shape: event.ShapeS3, Object: s3Object("ObjectCreated:Put", key)},
				{Kind: event.KindObjectRemoved, Shape: event.ShapeS3, Object: s3Object("ObjectRemoved:Delete", key)},
				{Kind: event.KindObjectRemoved, Shape: event.ShapeS3, Object: removed},
			}},
		{name: "s3 event name with s3: prefix (S3-compatible servers)", body: records(record("s3:ObjectCreated:Put", encKey, "")),
			want: []event.Event{{Kind: event.KindObjectCreated, Shape: event.ShapeS3, Object: s3Object("ObjectCreated:Put", key)}}},
		{name: "s3 lifecycle expiration", body: records(record("LifecycleExpiration:Delete", encKey, "")),
			want: []event.Event{{Kind: event.KindObjectRemoved, Shape: event.ShapeS3, Object: s3Object("LifecycleExpiration:Delete", key)}}},
		{name: "s3 tagging put", body: records(record("ObjectTagging:Put", encKey, "")),
			want: []event.Event{{Kind: event.KindObjectTagged, Shape: event.ShapeS3, Object: s3Object("ObjectTagging:Put", key)}}},
		{name: "s3 tagging delete", body: records(record("ObjectTagging:Delete", encKey, "")),
			want: []event.Event{{Kind: event.KindObjectTagged, Shape: event.ShapeS3, Object: s3Object("ObjectTagging:Delete", key)}}},
		{name: "s3 restore is ignored", body: records(record("ObjectRestore:Completed", encKey, "")),
			want: []event.Event{{Kind: event.KindIgnore, Shape: event.ShapeS3, Ignore: event.IgnoreUnhandledType, Object: s3Object("ObjectRestore:Completed", key)}}},
		{name: "s3 test event", body: testEvent,
			want: []event.Event{{Kind: event.KindIgnore, Shape: event.ShapeS3, Ignore: event.IgnoreTestEvent}}},

		// Wrapped by SNS.
		{name: "sns put", body: sns(records(record("ObjectCreated:Put", encKey, ""))),
			want: []event.Event{{Kind: event.KindObjectCreated, Shape: event.ShapeSNS, Object: s3Object("ObjectCreated:Put", key)}}},
		{name: "sns test event", body: sns(testEvent),
			want: []event.Event{{Kind: event.KindIgnore, Shape: event.ShapeSNS, Ignore: event.IgnoreTestEvent}}},

		// EventBridge.
		{name: "eventbridge created", body: eventBridge("Object Created", encKey, ""),
			want: []event.Event{{Kind: event.KindObjectCreated, Shape: event.ShapeEventBridge, Object: ebObject("Object Created", key)}}},
		{name: "eventbridge tags added", body: eventBridge("Object Tags Added", encKey, ""),
			want: []event.Event{{Kind: event.KindObjectTagged, Shape: event.ShapeEventBridge, Object: ebObject("Object Tags Added", key)}}},
		{name: "eventbridge delete marker", body: strings.Replace(eventBridge("Object Deleted", encKey, `,"deletion-type":"Delete Marker Created"`), `"PutObject"`, `"DeleteObject"`, 1),
			want: []event.Event{{Kind: event.KindObjectRemoved, Shape: event.ShapeEventBridge, Object: ebDeleted}}},
		{name: "eventbridge permanently deleted", body: strings.Replace(eventBridge("Object Deleted", encKey, `,"deletion-type":"Permanently Deleted"`), `"PutObject"`, `"DeleteObject"`, 1),
			want: []event.Event{{Kind: event.KindObjectRemoved, Shape: event.ShapeEventBridge, Object: ebDeletedPermanently}}},
		{name: "eventbridge restore is ignored", body: eventBridge("Object Restore Completed", encKey, ""),
			want: []event.Event{{Kind: event.KindIgnore, Shape: event.ShapeEventBridge, Ignore: event.IgnoreUnhandledType, Object: ebObject("Object Restore Completed", key)}}},

		// Jobs.
		{name: "ingest job", body: jobBody(ingest), want: []event.Event{{Kind: event.KindJob, Shape: event.ShapeJob, Job: &event.Job{
			Type: event.JobIngest, DocumentID: "doc-1", Bucket: "docs-bucket", Key: tenant + "/doc-1/a b+c.md",
			Envelope: envelope, EnvelopeFrom: event.EnvelopeInBody, Raw: json.RawMessage(ingest)}}}},
		{name: "reindex job", body: jobBody(`{"type":"reindex","document_id":"doc-1","model":"titan-embed-v2"}`),
			want: []event.Event{{Kind: event.KindJob, Shape: event.ShapeJob, Job: &event.Job{
				Type: event.JobReindex, DocumentID: "doc-1", Model: "titan-embed-v2", Envelope: envelope,
				EnvelopeFrom: event.EnvelopeInBody, Raw: json.RawMessage(`{"type":"reindex","document_id":"doc-1","model":"titan-embed-v2"}`)}}}},
		{name: "delete job by id", body: jobBody(`{"type":"delete","document_id":"doc-1"}`),
			want: []event.Event{{Kind: event.KindJob, Shape: event.ShapeJob, Job: &event.Job{Type: event.JobDelete, DocumentID: "doc-1",
				Envelope: envelope, EnvelopeFrom: event.EnvelopeInBody, Raw: json.RawMessage(`{"type":"delete","document_id":"doc-1"}`)}}}},
		{name: "delete job by object", body: jobBody(`{"type":"delete","bucket":"docs-bucket","key":"k"}`),
			want: []event.Event{{Kind: event.KindJob, Shape: event.ShapeJob, Job: &event.Job{Type: event.JobDelete, Bucket: "docs-bucket", Key: "k",
				Envelope: envelope, EnvelopeFrom: event.EnvelopeInBody, Raw: json.RawMessage(`{"type":"delete","bucket":"docs-bucket","key":"k"}`)}}}},
		{name: "purge tenant job", body: jobBody(`{"type":"purge_tenant"}`),
			want: []event.Event{{Kind: event.KindJob, Shape: event.ShapeJob, Job: &event.Job{Type: event.JobPurgeTenant,
				Envelope: envelope, EnvelopeFrom: event.EnvelopeInBody, Raw: json.RawMessage(`{"type":"purge_tenant"}`)}}}},
		{name: "envelope in attribute, body is the job byte for byte", body: " {\"type\":\"purge_tenant\"}\n",
			attrs: map[string]string{event.AttrEnvelope: envelope, "other": "x"},
			want: []event.Event{{Kind: event.KindJob, Shape: event.ShapeJob, Job: &event.Job{Type: event.JobPurgeTenant,
				Envelope: envelope, EnvelopeFrom: event.EnvelopeInAttribute, Raw: json.RawMessage(" {\"type\":\"purge_tenant\"}\n")}}}},

		// Rejections, each with its reason code.
		{name: "body too large", body: `{"x":"` + strings.Repeat("a", event.DefaultMaxBodyBytes) + `"}`, reason: event.ReasonTooLarge},
		{name: "too many records", body: records(strings.Split(strings.Repeat(record("ObjectCreated:Put", "k", "")+"\x00", 101), "\x00")[:101]...), reason: event.ReasonTooLarge},
		{name: "invalid UTF-8", body: "{\"Records\":\"\xff\"}", reason: event.ReasonMalformed},
		{name: "not JSON", body: `Records: yes`, reason: event.ReasonMalformed},
		{name: "empty body", body: ``, reason: event.ReasonMalformed},
		{name: "trailing data", body: testEvent + ` {}`, reason: event.ReasonMalformed},
		{name: "top-level array", body: `[` + testEvent + `]`, reason: event.ReasonMalformed},
		{name: "too deep", body: strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), reason: event.ReasonMalformed},
		{name: "duplicate key", body: `{"Records":[],"Records":[]}`, reason: event.ReasonMalformed},
		{name: "unknown shape", body: `{"hello":"world"}`, reason: event.ReasonUnsupported},
		{name: "records empty", body: `{"Records":[]}`, reason: event.ReasonMalformed},
		{name: "records not an array", body: `{"Records":{}}`, reason: event.ReasonMalformed},
		{name: "record not an object", body: `{"Records":[1]}`, reason: event.ReasonMalformed},
		{name: "record from another service", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `"aws:s3"`, `"aws:sqs"`, 1)), reason: event.ReasonUnsupported},
		{name: "record without eventName", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `"eventName"`, `"eventNom"`, 1)), reason: event.ReasonMalformed},
		{name: "record without s3", body: `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`, reason: event.ReasonMalformed},
		{name: "record without object", body: `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"docs-bucket"}}}]}`, reason: event.ReasonMalformed},
		{name: "bad bucket name", body: records(strings.ReplaceAll(record("ObjectCreated:Put", "k", ""), `"docs-bucket"`, `"Docs_Bucket"`)), reason: event.ReasonMalformed},
		{name: "bad time", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `2026-01-02T03:04:05.678Z`, `yesterday`, 1)), reason: event.ReasonMalformed},
		{name: "negative size", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `"size":1024`, `"size":-1`, 1)), reason: event.ReasonMalformed},
		{name: "fractional size", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `"size":1024`, `"size":1.5`, 1)), reason: event.ReasonMalformed},
		{name: "key not a string", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `"key":"k"`, `"key":7`, 1)), reason: event.ReasonMalformed},
		{name: "non-hex sequencer", body: records(strings.Replace(record("ObjectCreated:Put", "k", ""), `0055AED6DCD90281E5`, `0055-XYZ`, 1)), reason: event.ReasonMalformed},
		{name: "key with a bad escape", body: records(record("ObjectCreated:Put", "a%zzb", "")), reason: event.ReasonBadKeyEncoding},
		{name: "key with a truncated escape", body: records(record("ObjectCreated:Put", "ab%4", "")), reason: event.ReasonBadKeyEncoding},
		{name: "key decoding to invalid UTF-8", body: records(record("ObjectCreated:Put", "a%E9b", "")), reason: event.ReasonBadKeyEncoding},
		{name: "empty key", body: records(record("ObjectCreated:Put", "", "")), reason: event.ReasonMalformed},
		{name: "key too long", body: records(record("ObjectCreated:Put", strings.Repeat("%41", 1025), "")), reason: event.ReasonBadKeyEncoding},
		{name: "unknown S3 Event", body: strings.Replace(testEvent, "s3:TestEvent", "s3:Other", 1), reason: event.ReasonUnsupported},
		{name: "sns subscription confirmation", body: strings.Replace(sns(testEvent), `"Notification"`, `"SubscriptionConfirmation"`, 1), reason: event.ReasonUnsupported},
		{name: "sns message not JSON", body: sns("not json"), reason: event.ReasonMalformed},
		{name: "sns message without Message", body: `{"Type":"Notification"}`, reason: event.ReasonMalformed},
		{name: "sns carrying a job", body: sns(jobBody(`{"type":"purge_tenant"}`)), reason: event.ReasonUnsupported},
		{name: "sns carrying sns", body: sns(sns(testEvent)), reason: event.ReasonUnsupported},
		{name: "eventbridge from another service", body: strings.Replace(eventBridge("Object Created", "k", ""), `"aws.s3"`, `"aws.ec2"`, 1), reason: event.ReasonUnsupported},
		{name: "eventbridge without detail", body: `{"detail-type":"Object Created","source":"aws.s3"}`, reason: event.ReasonMalformed},
		{name: "eventbridge bad key", body: eventBridge("Object Created", "%", ""), reason: event.ReasonBadKeyEncoding},
		{name: "unknown job type", body: jobBody(`{"type":"exfiltrate"}`), reason: event.ReasonUnsupportedJob},
		{name: "job without type", body: jobBody(`{"document_id":"d"}`), reason: event.ReasonMalformed},
		{name: "job type not a string", body: jobBody(`{"type":["ingest"]}`), reason: event.ReasonMalformed},
		{name: "job not an object", body: jobBody(`"ingest"`), reason: event.ReasonMalformed},
		{name: "job missing", body: `{"envelope":"` + envelope + `"}`, reason: event.ReasonMalformed},
		{name: "job message with an extra field", body: `{"envelope":"` + envelope + `","job":{"type":"purge_tenant"},"tenant_id":"` + tenant + `"}`, reason: event.ReasonMalformed},
		{name: "job message without envelope", body: `{"job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformedEnvelope},
		{name: "envelope not a string", body: `{"envelope":1,"job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformed},
		{name: "envelope with two parts", body: `{"envelope":"aGVhZA.Y2xhaW1z","job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformedEnvelope},
		{name: "envelope with padding", body: `{"envelope":"aGVhZA==.Y2xhaW1z.c2ln","job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformedEnvelope},
		{name: "envelope with empty payload", body: `{"envelope":"aGVhZA..c2ln","job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformedEnvelope},
		{name: "envelope too long", body: `{"envelope":"a.` + strings.Repeat("b", event.DefaultMaxEnvelopeBytes) + `.c","job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformedEnvelope},
		{name: "empty envelope attribute", body: `{"type":"purge_tenant"}`, attrs: map[string]string{event.AttrEnvelope: ""}, reason: event.ReasonMalformedEnvelope},
		{name: "envelope in attribute and body", body: jobBody(`{"type":"purge_tenant"}`), attrs: map[string]string{event.AttrEnvelope: envelope}, reason: event.ReasonMalformedEnvelope},
		{name: "ingest without key", body: jobBody(`{"type":"ingest","bucket":"docs-bucket"}`), reason: event.ReasonMalformed},
		{name: "ingest without bucket or key", body: jobBody(`{"type":"ingest","document_id":"d"}`), reason: event.ReasonMalformed},
		{name: "reindex without document", body: jobBody(`{"type":"reindex"}`), reason: event.ReasonMalformed},
		{name: "delete without target", body: jobBody(`{"type":"delete"}`), reason: event.ReasonMalformed},
		{name: "purge naming a document", body: jobBody(`{"type":"purge_tenant","document_id":"d"}`), reason: event.ReasonMalformed},
		{name: "job field of the wrong type", body: jobBody(`{"type":"reindex","document_id":5}`), reason: event.ReasonMalformed},
		{name: "job document id with control characters", body: jobBody(`{"type":"reindex","document_id":"a\u0000b"}`), reason: event.ReasonMalformed},
		{name: "job bad bucket", body: jobBody(`{"type":"ingest","bucket":"a","key":"k"}`), reason: event.ReasonMalformed},
		{name: "job key too long", body: jobBody(`{"type":"ingest","bucket":"docs-bucket","key":"` + strings.Repeat("k", 1025) + `"}`), reason: event.ReasonBadKeyEncoding},
		// Parser differentials: two values for one field.
		{name: "job with duplicate type", body: jobBody(`{"type":"reindex","document_id":"d","type":"purge_tenant"}`), reason: event.ReasonMalformed},
		{name: "job with case-variant duplicate", body: jobBody(`{"type":"reindex","document_id":"d","TYPE":"purge_tenant"}`), reason: event.ReasonMalformed},
		{name: "job with Kelvin-sign duplicate", body: jobBody(`{"type":"ingest","bucket":"docs-bucket","key":"a","\u212aey":"b"}`), reason: event.ReasonMalformed},
		{name: "duplicate job field at top level", body: `{"envelope":"` + envelope + `","job":{"type":"purge_tenant"},"Job":{"type":"reindex","document_id":"d"}}`, reason: event.ReasonMalformed},
		{name: "case-variant top-level field", body: `{"Envelope":"` + envelope + `","job":{"type":"purge_tenant"}}`, reason: event.ReasonMalformed},
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := event.Decode([]byte(tc.body), tc.attrs)
			if tc.reason != "" {
				if err == nil {
					t.Fatalf("Decode succeeded, want reason %s: %+v", tc.reason, got)
				}
				if r := event.ReasonOf(err); r != tc.reason {
					t.Fatalf("reason = %q (%v), want %q", r, err, tc.reason)
				}
				var e *event.Error
				if !errors.As(err, &e) || e.Reason() != tc.reason {
					t.Errorf("not an *event.Error with Reason(): %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	const secret = "TOP-SECRET-CONTENT"
	bodies := []string{
		records(record("ObjectCreated:Put", secret+"%zz", "")),
		strings.Replace(testEvent, "s3:TestEvent", secret, 1),
		strings.Replace(sns(testEvent), `"Notification"`, `"`+secret+`"`, 1),
		jobBody(`{"type":"` + secret + `"}`),
		jobBody(`{"type":"reindex","document_id":"` + secret + "\\u0001" + `"}`),
		`{"envelope":"` + secret + `","job":{}}`,
		`{"` + secret + `":1}`,
	}
	for _, b := range bodies {
		_, err := event.Decode([]byte(b), nil)
		if err == nil {
			t.Fatalf("decoded %s", b)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks body content: %v", err)
		}
	}
}

func TestSentinels(t *testing.T) {
	t.Parallel()
	for reason, sentinel := range map[string]error{
		event.ReasonMalformed:         event.ErrMalformed,
		event.ReasonMalformedEnvelope: event.ErrMalformed,
		event.ReasonUnsupported:       event.ErrUnsupported,
		event.ReasonUnsupportedJob:    event.ErrUnsupported,
		event.ReasonTooLarge:          event.ErrTooLarge,
		event.ReasonBadKeyEncoding:    event.ErrBadKeyEncoding,
	} {
		found := false
		for _, tc := range decodeCases() {
			if tc.reason != reason {
				continue
			}
			found = true
			if _, err := event.Decode([]byte(tc.body), tc.attrs); !errors.Is(err, sentinel) {
				t.Errorf("%s: %v does not wrap %v", tc.name, err, sentinel)
			}
		}
		if !found {
			t.Errorf("no case for reason %s", reason)
		}
	}
	if event.ReasonOf(errors.New("x")) != "" || event.ReasonOf(nil) != "" {
		t.Error("ReasonOf of a foreign error")
	}
}

func TestDecoderLimits(t *testing.T) {
	t.Parallel()
	d, err := event.NewDecoder(event.Config{MaxBodyBytes: 4000, MaxRecords: 2, MaxEnvelopeBytes: 20})
	if err != nil {
		t.Fatal(err)
	}
	two := records(record("ObjectCreated:Put", "k", ""), record("ObjectCreated:Put", "k", ""))
	if evs, err := d.Decode([]byte(two), nil); err != nil || len(evs) != 2 {
		t.Errorf("2 records: %d events, %v", len(evs), err)
	}
	three := records(record("ObjectCreated:Put", "k", ""), record("ObjectCreated:Put", "k", ""), record("ObjectCreated:Put", "k", ""))
	if _, err := d.Decode([]byte(three), nil); event.ReasonOf(err) != event.ReasonTooLarge {
		t.Errorf("3 records: %v", err)
	}
	if _, err := d.Decode([]byte(`{"x":"`+strings.Repeat("a", 4000)+`"}`), nil); event.ReasonOf(err) != event.ReasonTooLarge {
		t.Errorf("big body: %v", err)
	}
	if _, err := d.Decode([]byte(jobBody(`{"type":"purge_tenant"}`)), nil); event.ReasonOf(err) != event.ReasonMalformedEnvelope {
		t.Errorf("long envelope: %v", err)
	}
	if _, err := event.NewDecoder(event.Config{MaxRecords: -1}); !errors.Is(err, event.ErrInvalidConfig) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestJobAction(t *testing.T) {
	t.Parallel()
	for typ, want := range map[event.JobType]string{
		event.JobIngest: "ingest", event.JobReindex: "reindex", event.JobDelete: "delete", event.JobPurgeTenant: "purge",
	} {
		if got, ok := event.ActionFor(typ); !ok || got != want {
			t.Errorf("ActionFor(%s) = %q", typ, got)
		}
		if got := (&event.Job{Type: typ}).Action(); got != want {
			t.Errorf("Action(%s) = %q", typ, got)
		}
	}
	if a, ok := event.ActionFor("purge"); ok || a != "" {
		t.Error("the action name is not a job type")
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[event.Kind]string{
		event.KindObjectCreated: "object_created", event.KindObjectRemoved: "object_removed",
		event.KindJob: "job", event.KindIgnore: "ignore", event.Kind(0): "unknown",
	} {
		if k.String() != want {
			t.Errorf("%d: %s", k, k.String())
		}
	}
}
