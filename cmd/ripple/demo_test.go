package main

import (
	"os"
	"testing"
)

// The README shows `ripple plan` on the demo's files; keep them identical
// to what the demo runs.
func TestDemoFilesMatch(t *testing.T) {
	for path, want := range map[string]string{
		"../../testdata/demo/views/sales.sql": demoViews,
		"../../testdata/demo/schema.sql":      demoSchema,
	} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want+"\n" && string(got) != want {
			t.Errorf("%s differs from the demo's constant; regenerate it from cmd/ripple/demo.go", path)
		}
	}
}

func init() {
	if os.Getenv("RIPPLE_WRITE_DEMO_FILES") != "" {
		_ = os.WriteFile("../../testdata/demo/views/sales.sql", []byte(demoViews), 0o644)
		_ = os.WriteFile("../../testdata/demo/schema.sql", []byte(demoSchema), 0o644)
	}
}
