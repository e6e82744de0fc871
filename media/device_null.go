package media

// Null is a Device whose input is silence and whose output is discarded.
type Null struct{}

// NewNull returns the null device.
func NewNull() Device { return Null{} }

// Name returns "null".
func (Null) Name() string { return "null" }

// Open returns a stream that reads silence and discards what is written.
func (Null) Open(rate, frameSamples int) (Stream, error) {
	if err := checkOpen("null", rate, frameSamples); err != nil {
		return nil, err
	}
	return nullStream{}, nil
}

type nullStream struct{}

func (nullStream) Read(p []int16) error  { clear(p); return nil }
func (nullStream) Write(p []int16) error { return nil }
func (nullStream) Close() error          { return nil }
