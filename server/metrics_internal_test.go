package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatusCode(t *testing.T) {
	for code, want := range map[int]string{100: "100", 200: "200", 201: "201", 404: "404", 599: "599", 600: "600", 99: "99", 0: "0"} {
		assert.Equal(t, want, statusCode(code))
	}
}
