package ingest

import (
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/objects"
)

// source is where an event's envelope came from, for security events.
func source(ev event.Event) string {
	if ev.Kind == event.KindJob {
		return "sqs"
	}
	return "s3"
}

// resource is what an event names (unverified), for security events.
func resource(ev event.Event) string {
	switch {
	case ev.Object != nil:
		return objects.URI(ev.Object.Bucket, ev.Object.Key)
	case ev.Job == nil:
		return ""
	case ev.Job.DocumentID != "":
		return envelope.DocumentResource(ev.Job.DocumentID)
	case ev.Job.Bucket != "":
		return envelope.ObjectResource(ev.Job.Bucket, ev.Job.Key)
	}
	return ""
}

func reasonOfDecode(err error) string {
	if r := event.ReasonOf(err); r != "" {
		return r
	}
	return "malformed_event"
}
