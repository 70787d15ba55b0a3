package worker

import "testing"

func TestEffectiveMaxReceives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		configured, queueMax int
		want                 int
	}{
		{"no redrive policy", 5, 0, 5},
		{"queue allows more", 5, 10, 5},
		{"queue allows exactly as many: one less", 5, 5, 4},
		{"queue allows fewer: one less than the queue", 5, 3, 2},
		{"queue allows one: one (a kill is then not finalized)", 5, 1, 1},
		{"check disabled", -1, 3, -1},
	}
	for _, tt := range tests {
		if got := effectiveMaxReceives(tt.configured, tt.queueMax); got != tt.want {
			t.Errorf("%s: effectiveMaxReceives(%d, %d) = %d, want %d", tt.name, tt.configured, tt.queueMax, got, tt.want)
		}
	}
}
