package event

import (
	"encoding/json"
	"errors"
)

// ErrNotSplittable is returned by SplitRecords for a body that is not an S3
// notification of records (direct or through SNS).
var ErrNotSplittable = errors.New("event: not an S3 notification of records")

// SplitRecords returns, for an S3 notification carrying records (sent
// directly or through SNS), one direct S3 notification per record, in the
// order of the records: each decodes to the one event its record decodes
// to in the whole body. The worker uses it to park one record of a
// notification whose other records run: the parked part is a message of
// its own, verified again through the gate when released. It trusts
// nothing in body; call it on a body Decode accepted.
func SplitRecords(body []byte) ([][]byte, error) {
	top, err := object(body, "body")
	if err != nil {
		return nil, err
	}
	var records json.RawMessage
	switch {
	case has(top, "Records"):
		records = top["Records"]
	case has(top, "Type"):
		msg, err := requiredStr(top, "Message", "SNS notification")
		if err != nil {
			return nil, err
		}
		m, err := object([]byte(msg), "SNS Message")
		if err != nil {
			return nil, err
		}
		if !has(m, "Records") {
			return nil, ErrNotSplittable
		}
		records = m["Records"]
	default:
		return nil, ErrNotSplittable
	}
	var rs []json.RawMessage
	if err := json.Unmarshal(records, &rs); err != nil || len(rs) == 0 {
		return nil, ErrNotSplittable
	}
	out := make([][]byte, len(rs))
	for i, r := range rs {
		b := make([]byte, 0, len(r)+len(`{"Records":[]}`))
		b = append(b, `{"Records":[`...)
		b = append(b, r...)
		out[i] = append(b, `]}`...)
	}
	return out, nil
}
