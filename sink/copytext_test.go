package sink

import (
	"io"
	"testing"
	"testing/iotest"

	"github.com/rippledb/ripple/internal/row"
)

// point1 is a variable so that 0.1 + 0.2 is computed in float64, not as an
// exact constant.
var point1 = 0.1

func TestAppendCopyRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  row.Row
		want string
	}{
		{"null", row.Row{row.Null}, "\\N\n"},
		{"empty string is not null", row.Row{row.NewText("")}, "\n"},
		{"specials", row.Row{row.NewText("a\\b\tc\nd\re"), row.NewInt(-1)}, "a\\\\b\\tc\\nd\\re\t-1\n"},
		{"literal \\N text", row.Row{row.NewText(`\N`)}, "\\\\N\n"},
		{"end marker text", row.Row{row.NewText(`\.`)}, "\\\\.\n"},
		{"bytea", row.Row{row.NewBytes([]byte{0, 0x5c, 9, 10})}, "\\\\x005c090a\n"},
		{"json keeps its text", row.Row{row.NewJSON("{\"a\":\n1}")}, "{\"a\":\\n1}\n"},
		{"float specials", row.Row{row.NewFloat(point1 + 0.2), row.NewFloat4(0.1)}, "0.30000000000000004\t0.1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendCopyRow(nil, tc.row)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCopyReaderRepeatsRows(t *testing.T) {
	us := []row.Update{
		{Row: row.Row{row.NewInt(1)}, W: 3},
		{Row: row.Row{row.NewText("x")}, W: 1},
		{Row: row.Row{row.Null}, W: 2},
	}
	want := "1\n1\n1\nx\n\\N\n\\N\n"
	// One byte at a time, to exercise the partial reads.
	got, err := io.ReadAll(iotest.OneByteReader(newCopyReader(us)))
	if err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	if err := iotest.TestReader(newCopyReader(us), []byte(want)); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(newCopyReader(nil)); len(got) != 0 {
		t.Fatalf("empty reader produced %q", got)
	}
}
