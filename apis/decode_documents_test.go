package apis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRunDocuments_KeepsDocumentIndexes(t *testing.T) {
	tests := map[string]struct {
		in      string
		indexes []int
		names   [][]string
	}{
		"single": {
			in:      "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: a}\n",
			indexes: []int{0}, names: [][]string{{"a"}},
		},
		"multi with an empty document": {
			in:      "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: a}\n---\n---\napiVersion: sprint/v1\nkind: RunList\nitems: [{metadata: {name: b}}, {metadata: {name: c}}]\n",
			indexes: []int{1, 2}, names: [][]string{{"a"}, {"b", "c"}},
		},
		"json stream": {
			in:      `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"a"}} {"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"b"}}`,
			indexes: []int{1, 2}, names: [][]string{{"a"}, {"b"}},
		},
		"empty": {in: "# nothing\n", indexes: []int{}, names: [][]string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			docs, err := DecodeRunDocuments([]byte(tc.in))
			require.NoError(t, err)
			indexes, names := []int{}, [][]string{}
			for _, d := range docs {
				indexes = append(indexes, d.Index)
				var n []string
				for _, r := range d.Runs {
					n = append(n, r.Metadata.Name)
				}
				names = append(names, n)
			}
			assert.Equal(t, tc.indexes, indexes)
			assert.Equal(t, tc.names, names)
		})
	}
	_, err := DecodeRunDocuments([]byte("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: a}\n---\napiVersion: sprint/v1\nkind: Run\nspec: {cpu: 1}\n"))
	require.EqualError(t, err, "document 2: spec.cpu: unknown field; did you mean spec.cpus?")
}
