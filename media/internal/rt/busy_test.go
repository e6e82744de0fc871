package rt

import "testing"

// TestPressureIn reads CPU pressure texts as Linux writes them.
func TestPressureIn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, text string
		want       float64
		ok         bool
	}{
		{"busy", "some avg10=87.83 avg60=44.02 avg300=12.19 total=40265626\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 87.83, true},
		{"idle", "some avg10=0.00 avg60=0.13 avg300=1.01 total=4674874\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, true},
		{"full line first", "full avg10=5.00 avg60=0 avg300=0 total=0\nsome avg10=12.50 avg60=0 avg300=0 total=1\n", 12.5, true},
		{"no some line", "full avg10=5.00 avg60=0 avg300=0 total=0\n", 0, false},
		{"garbled figure", "some avg10=x avg60=0\n", 0, false},
		{"empty", "", 0, false},
	} {
		got, ok := pressureIn([]byte(c.text))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: pressureIn = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestRunnableIn reads the tasks ready to run from /proc/loadavg texts.
func TestRunnableIn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text string
		want int
		ok   bool
	}{
		{"0.15 0.12 0.05 2/118 1234\n", 2, true},
		{"2.75 1.44 0.57 7/139 99\n", 7, true},
		{"0.15 0.12 0.05 x/118 1234\n", 0, false},
		{"0.15 0.12 0.05 118 1234\n", 0, false},
		{"0.15 0.12\n", 0, false},
	} {
		got, ok := runnableIn([]byte(c.text))
		if got != c.want || ok != c.ok {
			t.Errorf("runnableIn(%q) = %v, %v; want %v, %v", c.text, got, ok, c.want, c.ok)
		}
	}
}
