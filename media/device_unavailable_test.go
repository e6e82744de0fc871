package media

import (
	"errors"
	"testing"
)

// TestUnavailable: a device that could not be built says why when it is opened.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	why := errors.New("no sound server")
	d := NewUnavailable("default", why)
	if d.Name() != "default" {
		t.Errorf("Name: got %q, want default", d.Name())
	}
	if st, err := d.Open(8000, 160); !errors.Is(err, why) || st != nil {
		t.Errorf("Open: got %v, %v; want nil, %v", st, err, why)
	}
}
