package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// Every shell closes its session: no client goroutine may outlive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
