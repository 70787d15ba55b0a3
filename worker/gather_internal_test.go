package worker

import (
	"slices"
	"testing"
	"time"
)

func TestGather(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		queued []int
		close  bool
		max    int
		window time.Duration
		want   []int
	}{
		{name: "no window takes what is queued", queued: []int{2, 3}, max: 10, want: []int{1, 2, 3}},
		{name: "no window, nothing queued: the first alone", max: 10, want: []int{1}},
		{name: "at most max", queued: []int{2, 3, 4, 5}, max: 3, want: []int{1, 2, 3}},
		{name: "a closed channel ends the batch", queued: []int{2}, close: true, max: 10, window: time.Hour, want: []int{1, 2}},
		{name: "the window ends the batch", queued: []int{2}, max: 10, window: time.Millisecond, want: []int{1, 2}},
		{name: "window, at most max", queued: []int{2, 3, 4}, max: 2, window: time.Hour, want: []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := make(chan int, len(tc.queued))
			for _, v := range tc.queued {
				ch <- v
			}
			if tc.close {
				close(ch)
			}
			got := gather(ch, make([]int, 0, 1), 1, tc.max, tc.window)
			if !slices.Equal(got, tc.want) {
				t.Errorf("gather = %v, want %v", got, tc.want)
			}
		})
	}
}
