package chaos_test

import (
	"os"
	"testing"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// long reports whether the long chaos run was asked for (make chaos).
func long() bool { return os.Getenv("TENANTRY_CHAOS") == "long" }
