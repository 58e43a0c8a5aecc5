package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// listParams are the validated query parameters of GET /api/v1/runs.
type listParams struct {
	labelSel, fieldSel string
	match              func(*apis.Run) bool
	watch              bool
	limit              int
	// storeContinue is the store's own token, unwrapped from the
	// client's continue parameter.
	storeContinue string
	// rv is the resourceVersion parameter; rvSet tells 0 from absent.
	rv    uint64
	rvSet bool
}

// parseListParams checks every query parameter a list or watch reads, so
// that a typo is a 400 naming the parameter rather than a silently
// different answer.
func parseListParams(c echo.Context) (*listParams, error) {
	labelSel, fieldSel := c.QueryParam("labelSelector"), c.QueryParam("fieldSelector")
	match, err := matcher(labelSel, fieldSel)
	if err != nil {
		return nil, err
	}
	p, err := parseListParamsWithout(c)
	if err != nil {
		return nil, err
	}
	p.labelSel, p.fieldSel, p.match = labelSel, fieldSel, match
	if tok := c.QueryParam("continue"); tok != "" {
		if p.storeContinue, err = openContinue(tok, labelSel, fieldSel); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// continueToken is what the server hands out as metadata.continue: the
// store's token, bound to the selectors of the list it continues and
// checksummed, so that an edited token, or one reused with other
// selectors (which would skip or repeat Runs), is refused rather than
// answered with a wrong page. It is not a secret: any node must accept
// any node's token, and a forged one can only start a list elsewhere.
type continueToken struct {
	V    int    `json:"v"`
	Last string `json:"last"`
	Sel  string `json:"sel"`
	Sum  string `json:"sum"`
}

const continueVersion = 1

func selectorHash(labelSel, fieldSel string) string {
	h := sha256.Sum256([]byte("l=" + labelSel + "\x00f=" + fieldSel))
	return hex.EncodeToString(h[:8])
}

func (t continueToken) checksum() string {
	h := sha256.Sum256([]byte(strconv.Itoa(t.V) + "\x00" + t.Last + "\x00" + t.Sel))
	return hex.EncodeToString(h[:8])
}

// sealContinue wraps the store's token for the client.
func sealContinue(storeToken, labelSel, fieldSel string) string {
	if storeToken == "" {
		return ""
	}
	t := continueToken{V: continueVersion, Last: storeToken, Sel: selectorHash(labelSel, fieldSel)}
	t.Sum = t.checksum()
	b, _ := json.Marshal(t) // a struct of strings always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// openContinue checks a client's token and returns the store's.
func openContinue(tok, labelSel, fieldSel string) (string, error) {
	const restart = "; list again without continue"
	b, err := base64.RawURLEncoding.DecodeString(tok)
	var t continueToken
	if err != nil || json.Unmarshal(b, &t) != nil || t.V != continueVersion || t.Last == "" || t.Sum != t.checksum() {
		return "", badRequest("invalid continue token: it is not one this server issued%s", restart)
	}
	if t.Sel != selectorHash(labelSel, fieldSel) {
		return "", badRequest("invalid continue token: it was issued for a list with other labelSelector or fieldSelector values%s", restart)
	}
	return t.Last, nil
}
