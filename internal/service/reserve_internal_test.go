package service

import (
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/tenantlimits"
)

func TestFairReserve(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                 string
		concurrency, reserve int
		want                 int
	}{
		{"default: a quarter of the concurrency", 8, 0, 2},
		{"default: at least one", 2, 0, 1},
		{"none", 8, -1, 0},
		{"set", 8, 3, 3},
		{"at most the concurrency", 4, 9, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := (Config{Concurrency: tc.concurrency, FairReserve: tc.reserve}).fairReserve(); got != tc.want {
				t.Fatalf("fairReserve() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParkEvery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate int
		want time.Duration
	}{
		{0, tenantlimits.DefaultParkEvery},
		{20, 50 * time.Millisecond},
		{4, 250 * time.Millisecond},
		{-1, -1}, // not paced
	} {
		if got := (Config{ParkRate: tc.rate}).parkEvery(); got != tc.want {
			t.Errorf("ParkRate %d: parkEvery() = %v, want %v", tc.rate, got, tc.want)
		}
	}
}
