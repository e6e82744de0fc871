package media

// Unavailable is a Device that could not be built: its Open says why. It stands in for a device
// the program was asked to use and cannot (a sound card without a sound server), so that the
// reason reaches the user when the device is wanted.
type Unavailable struct {
	name string
	why  error
}

// NewUnavailable returns the device name, which cannot be used because of why.
func NewUnavailable(name string, why error) Device { return Unavailable{name: name, why: why} }

// Name returns the device's name.
func (u Unavailable) Name() string { return u.name }

// Open returns why the device cannot be used.
func (u Unavailable) Open(int, int) (Stream, error) { return nil, u.why }
