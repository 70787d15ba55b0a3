package sfntask_test

import (
	"fmt"

	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/pipeline"
)

// A stage failure becomes the error name the state machine retries or
// catches, and a cause made of stable codes only.
func ExampleClassify() {
	f := sfntask.Classify(sfntask.StageExtract, fmt.Errorf("extract: %w", pipeline.ErrUnsupported))
	fmt.Println(f.Name, f.CauseJSON())
	f = sfntask.Classify(sfntask.StageEmbed, &pipeline.TransientError{Err: fmt.Errorf("provider: 503")})
	fmt.Println(f.Name, f.CauseJSON())
	// Output:
	// Tenantry.Permanent {"stage":"extract","reason":"unsupported_media_type"}
	// Tenantry.Transient {"stage":"embed","reason":"transient"}
}
