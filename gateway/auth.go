package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// User is an authenticated caller. Its name becomes the actor of the events
// its requests append.
type User struct {
	Name   string
	UID    string
	Groups []string
}

// Tokens maps bearer tokens to users.
type Tokens map[string]User

// ReadTokens reads a token file in kube-apiserver's static token format:
// one `token,user,uid[,"group1,group2"]` line per user; # starts a comment.
func ReadTokens(r io.Reader) (Tokens, error) {
	out := Tokens{}
	cr := csv.NewReader(bufio.NewReader(r))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		if len(rec) < 3 || rec[0] == "" || rec[1] == "" {
			return nil, fmt.Errorf("token file: a line needs token,user,uid")
		}
		u := User{Name: rec[1], UID: rec[2]}
		if len(rec) > 3 && rec[3] != "" {
			u.Groups = strings.Split(rec[3], ",")
		}
		out[rec[0]] = u
	}
}

// LoadTokens reads a token file from disk.
func LoadTokens(path string) (Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTokens(f)
}

// NewToken returns a fresh random bearer token.
func NewToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

type userKey struct{}

func userFrom(ctx context.Context) User {
	u, _ := ctx.Value(userKey{}).(User)
	return u
}

// public paths answer without a token, as kube-apiserver's
// system:public-info-viewer role allows.
var public = map[string]bool{"/healthz": true, "/livez": true, "/readyz": true, "/version": true}

// authenticate admits requests with a known bearer token and answers 401 to
// the rest.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		user, known := s.tokens[strings.TrimSpace(token)]
		if !ok || !known {
			writeError(w, r, apierrors.NewUnauthorized("Unauthorized"), schema.GroupResource{}, "")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}
