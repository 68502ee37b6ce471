package blueprints

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func render(t *testing.T, text string) (string, *field.Error) {
	t.Helper()
	p := &Params{
		Workload:  WorkloadParams{Kind: "Deployment", Name: "web", Namespace: "shop", Labels: map[string]any{"app": "web"}, Annotations: map[string]any{}},
		Namespace: NamespaceParams{Name: "shop", Labels: map[string]any{}, Annotations: map[string]any{}},
		Variables: map[string]any{"n": int64(3), "s": "x"},
	}
	return RenderString(text, p, field.NewPath("spec", "f"))
}

// TestForbiddenFunctions proves that the functions which read the environment, the network, the
// clock or randomness, or make keys, are not callable from a blueprint.
func TestForbiddenFunctions(t *testing.T) {
	for _, fn := range []string{
		"env", "expandenv", "getHostByName", "now", "date", "dateInZone", "ago", "toDate", "unixEpoch",
		"randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randInt", "randBytes", "shuffle", "uuidv4",
		"genPrivateKey", "genCA", "genSelfSignedCert", "genSignedCert", "derivePassword", "encryptAES", "decryptAES",
		"bcrypt", "htpasswd", "durationRound",
	} {
		t.Run(fn, func(t *testing.T) {
			if _, ok := FuncMap()[fn]; ok {
				t.Fatalf("%s is in the function map", fn)
			}
			_, ferr := render(t, `{{ `+fn+` "HOME" }}`)
			if ferr == nil || !strings.Contains(ferr.Error(), `function "`+fn+`" not defined`) {
				t.Fatalf("calling %s: want 'not defined', got %v", fn, ferr)
			}
		})
	}
}

func TestFunctionsAndLimits(t *testing.T) {
	tests := map[string]struct {
		text    string
		want    string
		wantErr string
	}{
		"sprig string functions":             {text: `{{ .Workload.Name | upper | quote }}`, want: `"WEB"`},
		"sprig dict functions":               {text: `{{ .Workload.Labels | keys | join "," }}`, want: `app`},
		"typed int variable":                 {text: `{{ add .Variables.n 1 }}`, want: `4`},
		"default on a missing label":         {text: `{{ index .Workload.Labels "team" | default "none" }}`, want: `none`},
		"literal text is untouched":          {text: `plain {text}`, want: `plain {text}`},
		"bounded repeat":                     {text: `{{ repeat 3 "ab" }}`, want: `ababab`},
		"bounded until":                      {text: `{{ until 3 }}`, want: `[0 1 2]`},
		"bounded untilStep":                  {text: `{{ untilStep 0 10 4 }}`, want: `[0 4 8]`},
		"seq":                                {text: `{{ seq 3 }}|{{ seq 2 4 }}|{{ seq 5 -2 1 }}|{{ seq 3 1 }}`, want: `1 2 3|2 3 4|5 3 1|3 2 1`},
		"indent":                             {text: `{{ "a\nb" | indent 2 }}`, want: "  a\n  b"},
		"missing field":                      {text: `{{ .Workload.Labels.team }}`, wantErr: `map has no entry for key "team"`},
		"unknown parameter root":             {text: `{{ .Secrets.password }}`, wantErr: `.Secrets is not a blueprint parameter`},
		"syntax error":                       {text: `{{ .Workload.Name `, wantErr: `unclosed action`},
		"define is not allowed":              {text: `{{ define "x" }}x{{ end }}{{ template "x" }}`, wantErr: `define and block are not allowed`},
		"template is not allowed":            {text: `{{ template "x" }}`, wantErr: `{{template "x"}} is not allowed`},
		"repeat bound":                       {text: `{{ repeat 1000000 "a" }}`, wantErr: `more than the limit of 1000`},
		"until bound":                        {text: `{{ until 1000000 }}`, wantErr: `more than the limit of 1000`},
		"seq bound":                          {text: `{{ seq 1 1000000 }}`, wantErr: `more than the limit of 1000`},
		"indent bound":                       {text: `{{ indent 100000 "a" }}`, wantErr: `more than 65536 bytes`},
		"range over a big int":               {text: `{{ range 1000000000 }}{{ end }}`, wantErr: `range loops ran more than 10000 iterations`},
		"nested ranges":                      {text: `{{ $l := until 1000 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}{{ end }}`, wantErr: `range loops ran more than 10000 iterations`},
		"output bound":                       {text: `{{ range until 1000 }}{{ repeat 100 "x" }}{{ end }}`, wantErr: `renders to more than 65536 bytes`},
		"a panicking function":               {text: `{{ chunk 0 (list 1 2) }}`, wantErr: `error calling chunk`},
		"fail":                               {text: `{{ fail "no" }}`, wantErr: `error calling fail: no`},
		"printing the root is deterministic": {text: `{{ $ }}|{{ printf "%v" . }}`, want: `{{  Deployment web shop  map[app:web] map[]} {shop map[] map[]} {  0} map[n:3 s:x]}|{{  Deployment web shop  map[app:web] map[]} {shop map[] map[]} {  0} map[n:3 s:x]}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ferr := render(t, tc.text)
			if tc.wantErr != "" {
				if ferr == nil || !strings.Contains(ferr.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %q, %v", tc.wantErr, got, ferr)
				}
				if ferr.Field != "spec.f" {
					t.Fatalf("error at %q, want spec.f", ferr.Field)
				}
				return
			}
			if ferr != nil {
				t.Fatalf("unexpected error: %v", ferr)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVariablesAreIsolatedBetweenFields(t *testing.T) {
	p := &Params{Variables: map[string]any{"s": "original"}}
	r := newRenderer(p)
	if _, ferr := r.renderString(`{{ $_ := set .Variables "s" "changed" }}`, nil, field.NewPath("a")); ferr != nil {
		t.Fatal(ferr)
	}
	got, ferr := r.renderString(`{{ .Variables.s }}`, nil, field.NewPath("b"))
	if ferr != nil || got != "original" {
		t.Fatalf("a field changed what another renders: %q %v", got, ferr)
	}
}

func TestRenderBudgetSpansFields(t *testing.T) {
	r := newRenderer(&Params{})
	text := `{{ range until 900 }}{{ end }}`
	var ferr *field.Error
	for i := 0; i < 20 && ferr == nil; i++ {
		_, ferr = r.renderString(text, nil, field.NewPath("f").Index(i))
	}
	if ferr == nil || !strings.Contains(ferr.Error(), "across this blueprint's fields") {
		t.Fatalf("the iteration budget did not span fields: %v", ferr)
	}
}
