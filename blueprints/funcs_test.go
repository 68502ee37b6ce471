package blueprints

import (
	"os"
	"sort"
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
		"bcrypt", "htpasswd", "durationRound", "set", "unset", "merge", "mergeOverwrite", "mustMerge",
		"mustMergeOverwrite", "osBase", "hello",
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
		"sprig string functions":     {text: `{{ .Workload.Name | upper | quote }}`, want: `"WEB"`},
		"sprig dict functions":       {text: `{{ .Workload.Labels | keys | join "," }}`, want: `app`},
		"typed int variable":         {text: `{{ add .Variables.n 1 }}`, want: `4`},
		"default on a missing label": {text: `{{ index .Workload.Labels "team" | default "none" }}`, want: `none`},
		"literal text is untouched":  {text: `plain {text}`, want: `plain {text}`},
		"bounded repeat":             {text: `{{ repeat 3 "ab" }}`, want: `ababab`},
		"bounded until":              {text: `{{ until 3 }}`, want: `[0 1 2]`},
		"bounded untilStep":          {text: `{{ untilStep 0 10 4 }}`, want: `[0 4 8]`},
		"seq":                        {text: `{{ seq 3 }}|{{ seq 2 4 }}|{{ seq 5 -2 1 }}|{{ seq 3 1 }}`, want: `1 2 3|2 3 4|5 3 1|3 2 1`},
		"indent":                     {text: `{{ "a\nb" | indent 2 }}`, want: "  a\n  b"},
		"missing field":              {text: `{{ .Workload.Labels.team }}`, wantErr: `map has no entry for key "team"`},
		"unknown parameter root":     {text: `{{ .Secrets.password }}`, wantErr: `.Secrets is not a blueprint parameter`},
		"syntax error":               {text: `{{ .Workload.Name `, wantErr: `unclosed action`},
		"define is not allowed":      {text: `{{ define "x" }}x{{ end }}{{ template "x" }}`, wantErr: `define and block are not allowed`},
		"template is not allowed":    {text: `{{ template "x" }}`, wantErr: `{{template "x"}} is not allowed`},
		"repeat bound":               {text: `{{ repeat 1000000 "a" }}`, wantErr: `more than the limit of 1000`},
		"until bound":                {text: `{{ until 1000000 }}`, wantErr: `more than the limit of 1000`},
		"seq bound":                  {text: `{{ seq 1 1000000 }}`, wantErr: `more than the limit of 1000`},
		"indent bound":               {text: `{{ indent 100000 "a" }}`, wantErr: `more than the limit of 65536`},
		"range over a big int":       {text: `{{ range 1000000000 }}{{ end }}`, wantErr: `range loops ran more than 10000 iterations`},
		"nested ranges":              {text: `{{ $l := until 1000 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}{{ end }}`, wantErr: `range loops ran more than 10000 iterations`},
		"output bound":               {text: `{{ range until 1000 }}{{ repeat 100 "x" }}{{ end }}`, wantErr: `renders to more than 65536 bytes`},
		"a panicking function":       {text: `{{ chunk 0 (list 1 2) }}`, wantErr: `error calling chunk`},
		// Regressions from review: every one of these once crashed or exhausted the process.
		"untilStep near the int limit":        {text: `{{ untilStep 9223372036854775800 9223372036854775807 10 }}`, want: `[9223372036854775800]`},
		"untilStep near the negative limit":   {text: `{{ untilStep -9223372036854775800 -9223372036854775807 -10 }}`, want: `[-9223372036854775800]`},
		"seq near the int limit":              {text: `{{ seq 9223372036854775800 10 9223372036854775806 }}`, want: `9223372036854775800`},
		"doubling a string in a loop":         {text: `{{ $s := "xx" }}{{ range until 24 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}`, wantErr: `print returned 131072 bytes, more than the limit of 65536`},
		"replace amplifies":                   {text: `{{ $a := repeat 1000 "abcdefghijklmnop" }}{{ replace "" $a $a }}`, wantErr: `replace would make`},
		"regexReplaceAll amplifies":           {text: `{{ $a := repeat 500 "abcdefghijklmnop" }}{{ regexReplaceAll "" $a $a }}`, wantErr: `regexReplaceAll would make`},
		"regexReplaceAll $ references":        {text: `{{ $a := repeat 500 "abcdefghijklmnop" }}{{ regexReplaceAll "a" $a "$0$0$0$0$0$0$0$0$0$0" }}`, wantErr: `regexReplaceAll would make`},
		"wrapWith amplifies":                  {text: `{{ $a := repeat 500 "abcdefghijklmnop" }}{{ wrapWith 1 $a $a }}`, wantErr: `wrapWith would make`},
		"join with a long separator":          {text: `{{ $a := repeat 500 "abcdefghijklmnop" }}{{ join $a (until 100) }}`, wantErr: `join would make`},
		"printf widths":                       {text: `{{ printf "%999999d%999999d" 1 2 }}`, wantErr: `printf would make`},
		"printf star widths":                  {text: `{{ printf "%*d" 100000 1 }}`, wantErr: `printf would make`},
		"a loop of expensive calls ends":      {text: `{{ $a := repeat 900 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01" }}{{ range until 1000 }}{{ $_ := regexReplaceAll "x" $a "y" }}{{ end }}`, wantErr: `handled more than`},
		"values nest without end":             {text: `{{ $d := list }}{{ range until 100 }}{{ $d = list $d }}{{ end }}`, wantErr: `nest deeper than 32 levels`},
		"keys are sorted":                     {text: `{{ dict "h" 1 "a" 2 "c" 3 | keys | join "," }}|{{ dict "h" 1 "a" 2 "c" 3 | values | join "," }}`, want: `a,c,h|2,3,1`},
		"printf of the root is deterministic": {text: `{{ printf "%p" $ }}`, want: `%!p(blueprints.renderData={{{  Deployment web shop  map[app:web] map[]} {shop map[] map[]} {  0} map[n:3 s:x]} map[outputLeft:1048576 work:67]})`},
		"fields inside with":                  {text: `{{ with .Workload }}{{ .Name }}{{ end }}`, want: `web`},
		"fields inside range":                 {text: `{{ range list (dict "a" "b") }}{{ .a }}{{ end }}`, want: `b`},
		"root fields inside with":             {text: `{{ with .Workload }}{{ $.Secrets }}{{ end }}`, wantErr: `.Secrets is not a blueprint parameter`},
		"argument counts as written":          {text: `{{ upper }}`, wantErr: `wrong number of args for upper: want 1 got 0`},
		"fail":                                {text: `{{ fail "no" }}`, wantErr: `error calling fail: no`},
		"printing the root is deterministic":  {text: `{{ $ }}|{{ printf "%v" . }}`, want: `{{  Deployment web shop  map[app:web] map[]} {shop map[] map[]} {  0} map[n:3 s:x]}|{{  Deployment web shop  map[app:web] map[]} {shop map[] map[]} {  0} map[n:3 s:x]}`},
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

// TestFuncMapIsTheReviewedSet pins the functions templates may call, so a sprig upgrade or an
// edit cannot widen what blueprint authors can do without this golden file changing in review.
func TestFuncMapIsTheReviewedSet(t *testing.T) {
	var names []string
	for name := range FuncMap() {
		names = append(names, name)
	}
	sort.Strings(names)
	got := strings.Join(names, "\n") + "\n"
	const golden = "testdata/funcs.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("the template functions changed; review them, then run go test ./blueprints -run TestFuncMapIsTheReviewedSet -update\ngot:\n%s", got)
	}
	for name := range templateFuncs {
		if _, ok := FuncMap()[name]; !ok && name != iterationFunc {
			t.Errorf("templates can call %s, which FuncMap does not list", name)
		}
	}
}
