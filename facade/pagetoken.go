package facade

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/cairn-dev/cairn/errcode"
)

// Page tokens carry a position in an answer (a store cursor, or the last
// repository name) and a fingerprint of the query they belong to. They are
// checksummed so that a token edited by hand, or used with another query,
// is refused; they are not secret: they hold nothing the client did not
// already see, and every query value stays a bound parameter.
var pageTokenKey = sha256.Sum256([]byte("cairn page token v1"))

type pageToken struct {
	Query    string          `json:"q"`
	Position json.RawMessage `json:"p"`
}

// encodePageToken makes a token for position in the query fingerprinted by
// query.
func encodePageToken(query string, position any) (string, error) {
	p, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(pageToken{Query: query, Position: p})
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, pageTokenKey[:])
	mac.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16]), nil
}

// decodePageToken checks a token against the query and reads its position.
func decodePageToken(token, query string, position any) error {
	bad := errcode.New(errcode.InvalidParameter, "page_token is not a token this server gave for this query; start again without page_token").
		WithDetail(map[string]string{"parameter": "page_token"})
	b64, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 4096 {
		return bad
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return bad
	}
	mac := hmac.New(sha256.New, pageTokenKey[:])
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)[:16]) {
		return bad
	}
	var pt pageToken
	if err := json.Unmarshal(body, &pt); err != nil || pt.Query != query {
		return bad
	}
	if err := json.Unmarshal(pt.Position, position); err != nil {
		return bad
	}
	return nil
}
