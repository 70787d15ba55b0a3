package chaos_test

import (
	"os"
	"testing"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// long reports whether the long chaos run was asked for (make chaos).
func long() bool { return os.Getenv("TENANTRY_CHAOS") == "long" }

// dense reports whether the dense kill run was asked for: more documents
// and duplicate deliveries than the short run, without the long run's
// PostgreSQL restart.
func dense() bool { return os.Getenv("TENANTRY_CHAOS") == "dense" }
