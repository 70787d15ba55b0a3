package sfnctl_test

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/sfnctl"
)

// Execution names are derived from the verified tenant, the document and
// the object version: the same upload always gets the same name, so Step
// Functions refuses a duplicate Standard execution.
func ExampleExecutionName() {
	tenant := uuid.MustParse("6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d")
	name := sfnctl.ExecutionName(tenant, "handbook", "3HppGDR.Ecb1eG2kJb8d")
	fmt.Println(len(name), name == sfnctl.ExecutionName(tenant, "handbook", "3HppGDR.Ecb1eG2kJb8d"))
	got, ok := sfnctl.TenantOfExecution(name)
	fmt.Println(got, ok)
	// Output:
	// 77 true
	// 6f1c2a57-3d7e-4b8a-9c0d-1e2f3a4b5c6d true
}
