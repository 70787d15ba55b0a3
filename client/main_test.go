package client_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// testHTTP carries every test request (AWS clients and uploads), so its idle
// keep-alive connections can be closed before looking for leaks.
var testHTTP = &http.Client{Transport: &http.Transport{}}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		testHTTP.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
