package pgstore

import "github.com/google/uuid"

// HoldGroups makes s's groups wait until release is called, so a test can
// queue several flips into one group; Queued counts a tenant's waiting flips.
func HoldGroups(s *Store) (release func()) {
	h := make(chan struct{})
	s.group.mu.Lock()
	s.group.hold = h
	s.group.mu.Unlock()
	return func() {
		s.group.mu.Lock()
		s.group.hold = nil
		s.group.mu.Unlock()
		close(h)
	}
}

func Queued(s *Store, tenant uuid.UUID) int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	if q := s.group.tenants[tenant]; q != nil {
		return len(q.queue)
	}
	return 0
}
