package callmgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoMathRandTags: SIP tags and Call-IDs come from crypto/rand (sipua.Token), never from
// sipgo's GenerateTagN, which draws from math/rand.
func TestNoMathRandTags(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "GenerateTagN(") || strings.Contains(string(b), "math/rand") {
			t.Errorf("%s makes SIP tags or IDs with math/rand (use sipua.Token)", f)
		}
	}
}
