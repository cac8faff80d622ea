package session

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, which
// is how we know Run really exits when its context ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
