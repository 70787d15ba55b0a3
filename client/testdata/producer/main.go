// Command producer is a module outside tenantry that imports its producer
// SDK: TestImportableFromAnotherModule builds it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/client"
)

func main() {
	signer, err := client.GenerateKey(client.AlgES256, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := client.New(client.Config{Signer: signer, Issuer: "https://api.example.com"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	m, err := c.SignJob(context.Background(), uuid.New(), "svc:producer", client.Job{Type: client.JobReindex, DocumentID: "doc-1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(m.Job.Type, len(m.Envelope) > 0)
}
