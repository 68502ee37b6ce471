package shared

import "testing"

func TestCleanDirectory(t *testing.T) {
	tests := map[string]struct {
		in, want string
		ok       bool
	}{
		"relative":                {in: "demo/app", want: "demo/app", ok: true},
		"KubeStash leading slash": {in: "/demo/app", want: "demo/app", ok: true},
		"trailing slash":          {in: "demo/app/", want: "demo/app", ok: true},
		"single segment":          {in: "app", want: "app", ok: true},
		"dots inside names":       {in: "a..b/.c", want: "a..b/.c", ok: true},
		"empty":                   {in: ""},
		"root":                    {in: "/"},
		"dot":                     {in: "."},
		"dot segment":             {in: "a/./b"},
		"parent":                  {in: "../a"},
		"parent inside":           {in: "a/../b"},
		"double slash":            {in: "a//b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := CleanDirectory(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("CleanDirectory(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
