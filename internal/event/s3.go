package event

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// decodeRecords decodes an S3 notification's Records array.
func (d *Decoder) decodeRecords(raw json.RawMessage, shape Shape) ([]Event, error) {
	var records []json.RawMessage
	if err := json.Unmarshal(raw, &records); err != nil {
		return nil, malformed("Records is not an array")
	}
	switch {
	case len(records) == 0:
		return nil, malformed("Records is empty")
	case len(records) > d.cfg.MaxRecords:
		return nil, newError(ReasonTooLarge, ErrTooLarge, "%d records exceed %d", len(records), d.cfg.MaxRecords)
	}
	events := make([]Event, 0, len(records))
	for i, r := range records {
		ev, err := decodeRecord(r, shape)
		if err != nil {
			var e *Error
			if ok := asError(err, &e); ok {
				e.detail = "record " + strconv.Itoa(i) + ": " + e.detail
			}
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}

func decodeRecord(raw json.RawMessage, shape Shape) (Event, error) {
	rec, err := object(raw, "record")
	if err != nil {
		return Event{}, err
	}
	source, err := str(rec, "eventSource", "record")
	if err != nil {
		return Event{}, err
	}
	if source != "aws:s3" {
		return Event{}, unsupported("record eventSource is not aws:s3")
	}
	name, err := requiredStr(rec, "eventName", "record")
	if err != nil {
		return Event{}, err
	}
	name = strings.TrimPrefix(name, "s3:") // as some S3-compatible servers send it
	region, err := str(rec, "awsRegion", "record")
	if err != nil {
		return Event{}, err
	}
	at, err := timestamp(rec, "eventTime", "record")
	if err != nil {
		return Event{}, err
	}
	s3, err := child(rec, "s3", "record")
	if err != nil {
		return Event{}, err
	}
	bucket, err := child(s3, "bucket", "s3")
	if err != nil {
		return Event{}, err
	}
	obj, err := child(s3, "object", "s3")
	if err != nil {
		return Event{}, err
	}
	o := &Object{EventName: name, EventTime: at, Region: region}
	if o.Bucket, err = requiredStr(bucket, "name", "s3.bucket"); err != nil {
		return Event{}, err
	}
	if !validBucket(o.Bucket) {
		return Event{}, malformed("s3.bucket.name is not a valid bucket name")
	}
	rawKey, err := requiredStr(obj, "key", "s3.object")
	if err != nil {
		return Event{}, err
	}
	if o.Key, err = DecodeKey(rawKey); err != nil {
		return Event{}, err
	}
	if o.Size, err = size(obj, "size", "s3.object"); err != nil {
		return Event{}, err
	}
	if o.ETag, err = str(obj, "eTag", "s3.object"); err != nil {
		return Event{}, err
	}
	if o.VersionID, err = str(obj, "versionId", "s3.object"); err != nil {
		return Event{}, err
	}
	if o.Sequencer, err = sequencer(obj, "s3.object"); err != nil {
		return Event{}, err
	}
	ev := Event{Shape: shape, Object: o}
	switch {
	case strings.HasPrefix(name, "ObjectCreated:"):
		ev.Kind = KindObjectCreated
	case name == "ObjectRemoved:Delete", name == "LifecycleExpiration:Delete":
		ev.Kind = KindObjectRemoved
	case name == "ObjectRemoved:DeleteMarkerCreated", name == "LifecycleExpiration:DeleteMarkerCreated":
		ev.Kind = KindObjectRemoved
		o.DeleteMarker = true
	case name == "ObjectTagging:Put", name == "ObjectTagging:Delete":
		ev.Kind = KindObjectTagged
	default:
		ev.Kind, ev.Ignore = KindIgnore, IgnoreUnhandledType
	}
	return ev, nil
}

// decodeTestEvent decodes S3's s3:TestEvent.
func decodeTestEvent(top map[string]json.RawMessage, shape Shape) ([]Event, error) {
	name, err := str(top, "Event", "body")
	if err != nil {
		return nil, err
	}
	if name != "s3:TestEvent" {
		return nil, unsupported("unknown S3 Event")
	}
	return []Event{{Kind: KindIgnore, Shape: shape, Ignore: IgnoreTestEvent}}, nil
}

// decodeSNS unwraps an SNS notification holding an S3 notification.
func (d *Decoder) decodeSNS(top map[string]json.RawMessage) ([]Event, error) {
	typ, err := str(top, "Type", "body")
	if err != nil {
		return nil, err
	}
	if typ != "Notification" {
		// SubscriptionConfirmation and the like: an operator's matter.
		return nil, unsupported("SNS message is not a Notification")
	}
	msg, err := requiredStr(top, "Message", "SNS notification")
	if err != nil {
		return nil, err
	}
	inner := []byte(msg)
	if err := checkJSON(inner); err != nil {
		return nil, err
	}
	m, err := object(inner, "SNS Message")
	if err != nil {
		return nil, err
	}
	switch {
	case has(m, "Records"):
		return d.decodeRecords(m["Records"], ShapeSNS)
	case has(m, "Event"):
		return decodeTestEvent(m, ShapeSNS)
	}
	return nil, unsupported("SNS Message is not an S3 notification")
}

// decodeEventBridge decodes an S3 event routed by EventBridge.
func (d *Decoder) decodeEventBridge(top map[string]json.RawMessage) ([]Event, error) {
	source, err := str(top, "source", "body")
	if err != nil {
		return nil, err
	}
	if source != "aws.s3" {
		return nil, unsupported("EventBridge source is not aws.s3")
	}
	detailType, err := requiredStr(top, "detail-type", "body")
	if err != nil {
		return nil, err
	}
	region, err := str(top, "region", "body")
	if err != nil {
		return nil, err
	}
	at, err := timestamp(top, "time", "body")
	if err != nil {
		return nil, err
	}
	detail, err := child(top, "detail", "body")
	if err != nil {
		return nil, err
	}
	bucket, err := child(detail, "bucket", "detail")
	if err != nil {
		return nil, err
	}
	obj, err := child(detail, "object", "detail")
	if err != nil {
		return nil, err
	}
	o := &Object{EventName: detailType, EventTime: at, Region: region}
	if o.Bucket, err = requiredStr(bucket, "name", "detail.bucket"); err != nil {
		return nil, err
	}
	if !validBucket(o.Bucket) {
		return nil, malformed("detail.bucket.name is not a valid bucket name")
	}
	rawKey, err := requiredStr(obj, "key", "detail.object")
	if err != nil {
		return nil, err
	}
	// EventBridge keys are URL-encoded like notification keys.
	if o.Key, err = DecodeKey(rawKey); err != nil {
		return nil, err
	}
	if o.Size, err = size(obj, "size", "detail.object"); err != nil {
		return nil, err
	}
	if o.ETag, err = str(obj, "etag", "detail.object"); err != nil {
		return nil, err
	}
	if o.VersionID, err = str(obj, "version-id", "detail.object"); err != nil {
		return nil, err
	}
	if o.Sequencer, err = sequencer(obj, "detail.object"); err != nil {
		return nil, err
	}
	if o.Reason, err = str(detail, "reason", "detail"); err != nil {
		return nil, err
	}
	ev := Event{Shape: ShapeEventBridge, Object: o}
	switch detailType {
	case "Object Created":
		ev.Kind = KindObjectCreated
	case "Object Deleted":
		ev.Kind = KindObjectRemoved
		deletion, err := str(detail, "deletion-type", "detail")
		if err != nil {
			return nil, err
		}
		o.DeleteMarker = deletion == "Delete Marker Created"
	case "Object Tags Added", "Object Tags Deleted":
		ev.Kind = KindObjectTagged
	default:
		ev.Kind, ev.Ignore = KindIgnore, IgnoreUnhandledType
	}
	return []Event{ev}, nil
}

func asError(err error, target **Error) bool { return errors.As(err, target) }
