package ingest

import (
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/worker"
)

type itemKind int

const (
	kindIgnore itemKind = iota
	kindObjectCreated
	kindObjectRemoved
	kindJob
)

// item is one thing a message asks for, with the fields the handler needs.
type item struct {
	kind       itemKind
	bucket     string
	key        string // decoded
	sequencer  string
	action     envelope.Action
	envelope   string
	rawJob     []byte
	documentID string
}

func (it item) resource() string {
	if it.documentID != "" {
		return envelope.DocumentResource(it.documentID)
	}
	if it.bucket != "" {
		return envelope.ObjectResource(it.bucket, it.key)
	}
	return ""
}

func decode(m *worker.Message) ([]item, error) {
	evs, err := event.Decode(m.Body, m.Attributes)
	if err != nil {
		return nil, err
	}
	out := make([]item, 0, len(evs))
	for _, ev := range evs {
		switch ev.Kind {
		case event.KindObjectCreated:
			out = append(out, item{kind: kindObjectCreated, bucket: ev.Object.Bucket, key: ev.Object.Key, sequencer: ev.Object.Sequencer})
		case event.KindObjectRemoved:
			out = append(out, item{kind: kindObjectRemoved, bucket: ev.Object.Bucket, key: ev.Object.Key, sequencer: ev.Object.Sequencer})
		case event.KindJob:
			j := ev.Job
			out = append(out, item{kind: kindJob, bucket: j.Bucket, key: j.Key, action: envelope.Action(j.Action()),
				envelope: j.Envelope, rawJob: j.Raw, documentID: j.DocumentID})
		default:
			out = append(out, item{kind: kindIgnore})
		}
	}
	return out, nil
}

func reasonOfDecode(err error) string {
	if r := event.ReasonOf(err); r != "" {
		return r
	}
	return "malformed_event"
}
