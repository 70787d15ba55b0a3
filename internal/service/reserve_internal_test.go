package service

import "testing"

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
