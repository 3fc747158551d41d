package history

import "testing"

func TestMergePatch(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{`{}`, `{"a":1}`, `{"a":1}`},
		{`{"a":1,"b":{"c":"x","d":[1,2]}}`, `{"a":1,"b":{"c":"y","d":[1,2]}}`, `{"b":{"c":"y"}}`},
		{`{"a":1,"b":{"c":"x"}}`, `{"b":{}}`, `{"a":null,"b":{"c":null}}`},
		{`{"metadata":{"name":"n","resourceVersion":"1"}}`, `{"metadata":{"name":"n","resourceVersion":"2"}}`, `{}`},
		{`{"k\"q":"a \"}\" b","l":[{"x":"]"}]}`, `{"k\"q":"a \"}\" c","l":[{"x":"]"}]}`, `{"k\"q":"a \"}\" c"}`},
		{` { "a" : true , "b" : null } `, `{"a":false,"b":null}`, `{"a":false}`},
	} {
		got, err := MergePatch([]byte(c.a), []byte(c.b))
		if err != nil || string(got) != c.want {
			t.Errorf("MergePatch(%s, %s) = %s, %v; want %s", c.a, c.b, got, err, c.want)
		}
	}
	for _, bad := range []string{`[]`, `{"a"}`, `{"a":1`, `"x"`, ``} {
		if _, err := MergePatch([]byte(bad), []byte(`{}`)); err == nil {
			t.Errorf("MergePatch(%q) succeeded", bad)
		}
	}
}
