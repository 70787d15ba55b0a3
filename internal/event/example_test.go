package event_test

import (
	"fmt"

	"github.com/tenantry/tenantry/internal/event"
)

func ExampleDecode() {
	body := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
	  "s3":{"bucket":{"name":"docs-bucket"},"object":{"key":"t1/doc-1/red+flower%2B1.pdf","size":42,"sequencer":"0055AED6DCD90281E5"}}}]}`
	evs, err := event.Decode([]byte(body), nil)
	if err != nil {
		fmt.Println(event.ReasonOf(err))
		return
	}
	for _, ev := range evs {
		fmt.Println(ev.Kind, ev.Shape, ev.Object.Bucket, ev.Object.Key)
	}
	// Output: object_created s3 docs-bucket t1/doc-1/red flower+1.pdf
}

func ExampleDecode_job() {
	body := `{"envelope":"aGVhZA.Y2xhaW1z.c2ln","job":{"type":"reindex","document_id":"doc-1"}}`
	evs, _ := event.Decode([]byte(body), nil)
	j := evs[0].Job
	// The envelope must authorize j.Action() and its bh claim must be the
	// base64url SHA-256 of j.Raw.
	fmt.Println(j.Type, j.Action(), string(j.Raw))
	// Output: reindex reindex {"type":"reindex","document_id":"doc-1"}
}

func ExampleSequencerLess() {
	stored, incoming := "0055AED6DCD90281E6", "55AED6DCD90281E5"
	if event.SequencerLess(incoming, stored) {
		fmt.Println("older event: skip")
	}
	// Output: older event: skip
}
