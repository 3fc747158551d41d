package image

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func TestKeychainMatching(t *testing.T) {
	var k Keychain
	if err := k.AddDockerConfigJSON([]byte(`{"auths": {
		"registry.example.com:5000": {"auth": "` + basicAuth("port", "p") + `"},
		"registry.example.com": {"username": "plain", "password": "p"},
		"https://registry.example.com/team": {"auth": "` + basicAuth("team", "p") + `"},
		"*.corp.example": {"auth": "` + basicAuth("glob", "p") + `"},
		"https://index.docker.io/v1/": {"auth": "` + basicAuth("hub", "p") + `"}
	}}`)); err != nil {
		t.Fatal(err)
	}
	if err := k.AddDockercfg([]byte(`{"legacy.example.com": {"auth": "` + basicAuth("legacy", "p") + `"}}`)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		want []string // usernames, most specific first
	}{
		{"registry.example.com:5000/app:v1", []string{"port"}},
		{"registry.example.com/app", []string{"plain"}},
		{"registry.example.com/team/app", []string{"team", "plain"}},
		{"registry.example.com/teamster/app", []string{"plain"}},
		{"a.corp.example/x", []string{"glob"}},
		{"a.b.corp.example/x", nil},
		{"nginx", []string{"hub"}},
		{"docker.io/bitnami/redis", []string{"hub"}},
		{"legacy.example.com/x@sha256:" + hex64(), []string{"legacy"}},
		{"other.example.com/x", nil},
	}
	for _, tt := range tests {
		got := k.Matching(tt.ref)
		var users []string
		for _, a := range got {
			users = append(users, a.Username)
		}
		if len(users) != len(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.ref, users, tt.want)
			continue
		}
		for i := range users {
			if users[i] != tt.want[i] {
				t.Errorf("%s: got %v, want %v", tt.ref, users, tt.want)
			}
		}
	}
	reg, _ := name.NewRegistry("registry.example.com:5000")
	a, err := k.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := a.Authorization(); cfg.Username != "port" || cfg.Password != "p" {
		t.Errorf("Resolve(registry) = %+v", cfg)
	}
}

func TestKeychainRefusesBadConfig(t *testing.T) {
	for _, in := range []string{`{`, `{"auths": null}`, `[]`, `{"auths": {"h": {"auth": "!!"}}}`} {
		var k Keychain
		if err := k.AddDockerConfigJSON([]byte(in)); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
}

// FuzzKeychain: whatever a pull secret holds, parsing and matching never
// panic, and a credential only ever matches a reference of its own host.
func FuzzKeychain(f *testing.F) {
	f.Add([]byte(`{"auths":{"registry.example.com":{"auth":"dTpw"}}}`), "registry.example.com/a/b:c")
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}`), "nginx")
	f.Add([]byte(`{"auths":{"*.x.io:5000/p":{"auth":"dTpw"}}}`), "a.x.io:5000/p/q")
	f.Add([]byte(`{"auths":{"[::1]:5000":{"auth":"dTpw"}}}`), "[::1]:5000/a")
	f.Fuzz(func(t *testing.T, cfg []byte, ref string) {
		var k Keychain
		k.AddDockerConfigJSON(cfg)
		k.AddDockercfg(cfg)
		r, err := name.ParseReference(ref)
		got := k.Matching(ref)
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("credentials for an invalid reference %q", ref)
			}
			return
		}
		for _, c := range k.entries {
			if c.matches(r.Context().RegistryStr(), r.Context().RepositoryStr()) && c.host != "" && !globHost(c.host, hostOf(r.Context().RegistryStr())) {
				t.Fatalf("%+v matches %q", c, ref)
			}
		}
	})
}

func hostOf(registry string) string {
	c, err := parseCredentialKey(registry)
	if err != nil {
		return ""
	}
	return c.host
}
