package mesos

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordReader(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []string
		wantErr error
	}{
		"records":                {in: "5\nhello3\nabc", want: []string{"hello", "abc"}, wantErr: io.EOF},
		"zero records skipped":   {in: "0\n2\nhi", want: []string{"hi"}, wantErr: io.EOF},
		"blank lines skipped":    {in: "\n\n2\nhi\n", want: []string{"hi"}, wantErr: io.EOF},
		"truncated record":       {in: "5\nhel", wantErr: io.ErrUnexpectedEOF},
		"truncated header":       {in: "2\nhi12", want: []string{"hi"}, wantErr: io.ErrUnexpectedEOF},
		"bad size":               {in: "x1\nhi", wantErr: ErrProtocol},
		"overflowing size":       {in: "9227000000000000000\n", wantErr: ErrProtocol},
		"beyond max":             {in: "101\n", wantErr: ErrProtocol},
		"header longer than 32k": {in: strings.Repeat("1", 40<<10), wantErr: ErrProtocol},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rr := newRecordReader(strings.NewReader(tc.in), 100)
			var got []string
			for {
				b, err := rr.ReadFrame()
				if err != nil {
					require.ErrorIs(t, err, tc.wantErr)
					break
				}
				got = append(got, string(b))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
