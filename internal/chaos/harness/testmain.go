package harness

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a test package that starts workers through this harness: it
// removes the built worker binary and checks for leaked goroutines.
func Main(m *testing.M) {
	code := m.Run()
	CleanupBinary()
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
