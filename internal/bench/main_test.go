package bench_test

import (
	"testing"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
