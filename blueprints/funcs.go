package blueprints

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// Limits of one render. They bound what a blueprint author can make the webhook and the
// controller do, whatever the template and its input.
const (
	// MaxTemplateBytes bounds the source of one templated field.
	MaxTemplateBytes = 16 << 10
	// MaxFieldOutputBytes bounds the rendered value of one field and every string a function
	// returns.
	MaxFieldOutputBytes = 64 << 10
	// MaxRenderOutputBytes bounds the rendered values of one configuration together.
	MaxRenderOutputBytes = 1 << 20
	// MaxListLength bounds every list and map a function returns, and the lists made by until,
	// untilStep and seq.
	MaxListLength = 1000
	// MaxIterations bounds range iterations across one render.
	MaxIterations = 10000
	// MaxValueBytes bounds the size of any value a function takes or returns: the bytes of its
	// strings plus one per list or map entry.
	MaxValueBytes = 1 << 20
	// MaxValueDepth bounds how deeply lists and maps nest.
	MaxValueDepth = 32
	// MaxRenderWork bounds the sizes of all values passed to and returned by functions across one
	// render, so a loop of expensive calls ends.
	MaxRenderWork = 32 << 20
)

// allowedFuncs are the sprig functions a blueprint may call. It is an allowlist, so a sprig
// upgrade cannot add a function unnoticed. Left out: everything reading the clock, randomness,
// the environment or the network (now, date*, ago, rand*, shuffle, uuidv4, env, expandenv,
// getHostByName), key and certificate makers (gen*, derivePassword, encryptAES, bcrypt, ...),
// the os* path functions, and the functions that change a dict in place (set, unset, merge*):
// without mutation no value can contain itself, so nothing can recurse without end.
var allowedFuncs = []string{
	"abbrev", "abbrevboth", "add", "add1", "add1f", "addf", "adler32sum", "all", "any", "append", "atoi",
	"b32dec", "b32enc", "b64dec", "b64enc", "base", "biggest", "camelcase", "cat", "ceil", "chunk", "clean",
	"coalesce", "compact", "concat", "contains", "deepCopy", "deepEqual", "default", "dict", "dig", "dir",
	"div", "divf", "duration", "empty", "ext", "fail", "first", "float64", "floor", "fromJson", "get", "has",
	"hasKey", "hasPrefix", "hasSuffix", "indent", "initial", "initials", "int", "int64", "isAbs", "join",
	"kebabcase", "keys", "kindIs", "kindOf", "last", "list", "lower", "max", "maxf", "min", "minf", "mod",
	"mul", "mulf", "mustAppend", "mustChunk", "mustCompact", "mustDeepCopy", "mustFirst", "mustFromJson",
	"mustHas", "mustInitial", "mustLast", "mustPrepend", "mustPush", "mustRegexFind", "mustRegexFindAll",
	"mustRegexMatch", "mustRegexReplaceAll", "mustRegexReplaceAllLiteral", "mustRegexSplit", "mustRest",
	"mustReverse", "mustSlice", "mustToJson", "mustToPrettyJson", "mustToRawJson", "mustUniq", "mustWithout",
	"nindent", "nospace", "omit", "pick", "pluck", "plural", "prepend", "push", "quote", "regexFind",
	"regexFindAll", "regexMatch", "regexQuoteMeta", "regexReplaceAll", "regexReplaceAllLiteral",
	"regexSplit", "repeat", "replace", "rest", "reverse", "round", "semver", "semverCompare", "seq",
	"sha1sum", "sha256sum", "sha512sum", "slice", "snakecase", "sortAlpha", "split", "splitList", "splitn",
	"squote", "sub", "subf", "substr", "swapcase", "ternary", "title", "toDecimal", "toJson",
	"toPrettyJson", "toRawJson", "toString", "toStrings", "trim", "trimAll", "trimPrefix", "trimSuffix",
	"trimall", "trunc", "tuple", "typeIs", "typeIsLike", "typeOf", "uniq", "until", "untilStep", "untitle",
	"upper", "urlJoin", "urlParse", "values", "without", "wrap", "wrapWith",
}

// FuncMap returns the functions blueprint templates may call, in their plain signatures: the
// allowed sprig functions with the allocating ones bounded, plus bounded versions of
// text/template's print, printf, println, html, js and urlquery. Templates get each of them
// wrapped so every call is charged to the render's budget (see templateFuncs).
func FuncMap() template.FuncMap {
	sprigFuncs := sprig.HermeticTxtFuncMap()
	m := template.FuncMap{}
	for _, name := range allowedFuncs {
		if f, ok := sprigFuncs[name]; ok {
			m[name] = f
		}
	}
	m["repeat"] = boundedRepeat
	m["until"] = boundedUntil
	m["untilStep"] = boundedUntilStep
	m["seq"] = boundedSeq
	m["indent"] = boundedIndent
	m["nindent"] = func(spaces int, s string) (string, error) {
		out, err := boundedIndent(spaces, s)
		return "\n" + out, err
	}
	m["replace"] = boundedReplace
	m["join"] = boundedJoin
	m["wrapWith"] = boundedWrapWith
	m["regexReplaceAll"] = func(re, s, repl string) (string, error) { return boundedRegexReplace(re, s, repl, false) }
	m["mustRegexReplaceAll"] = m["regexReplaceAll"]
	m["regexReplaceAllLiteral"] = func(re, s, repl string) (string, error) { return boundedRegexReplace(re, s, repl, true) }
	m["mustRegexReplaceAllLiteral"] = m["regexReplaceAllLiteral"]
	m["keys"] = sortedKeys
	m["values"] = valuesByKey
	m["printf"] = boundedPrintf
	m["print"] = fmt.Sprint
	m["println"] = fmt.Sprintln
	m["html"] = func(args ...any) string { return htmltemplate.HTMLEscapeString(fmt.Sprint(args...)) }
	m["js"] = func(args ...any) string { return template.JSEscapeString(fmt.Sprint(args...)) }
	m["urlquery"] = func(args ...any) string { return url.QueryEscape(fmt.Sprint(args...)) }
	return m
}

func tooLong(fn string, n, limit int) error {
	return fmt.Errorf("%s would make %d items, more than the limit of %d", fn, n, limit)
}

func tooBig(fn string, n int) error {
	return fmt.Errorf("%s would make %d bytes, more than the limit of %d", fn, n, MaxFieldOutputBytes)
}

func boundedRepeat(count int, s string) (string, error) {
	if count < 0 {
		return "", fmt.Errorf("repeat: negative count %d", count)
	}
	if count > MaxListLength {
		return "", tooLong("repeat", count, MaxListLength)
	}
	if count*len(s) > MaxFieldOutputBytes {
		return "", tooBig("repeat", count*len(s))
	}
	return strings.Repeat(s, count), nil
}

func boundedUntil(count int) ([]int, error) {
	if count >= 0 {
		return boundedUntilStep(0, count, 1)
	}
	return boundedUntilStep(0, count, -1)
}

// boundedUntilStep counts the items in unsigned arithmetic, so no start, stop or step can
// overflow into an endless loop.
func boundedUntilStep(start, stop, step int) ([]int, error) {
	if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
		return []int{}, nil
	}
	var span, stride uint64
	if step > 0 {
		span, stride = uint64(stop)-uint64(start), uint64(step)
	} else {
		span, stride = uint64(start)-uint64(stop), -uint64(step)
	}
	n := span / stride
	if span%stride != 0 {
		n++
	}
	if n > MaxListLength {
		return nil, tooLong("untilStep", int(min(n, math.MaxInt32)), MaxListLength)
	}
	out := make([]int, n)
	for k := range out {
		out[k] = start + k*step
	}
	return out, nil
}

// boundedSeq follows sprig's seq: seq LAST, seq FIRST LAST, seq FIRST INCREMENT LAST, inclusive,
// joined with spaces.
func boundedSeq(params ...int) (string, error) {
	start, step, end := 1, 1, 0
	switch len(params) {
	case 1:
		end = params[0]
	case 2:
		start, end = params[0], params[1]
	case 3:
		start, step, end = params[0], params[1], params[2]
	default:
		return "", fmt.Errorf("seq takes 1 to 3 numbers, got %d", len(params))
	}
	if len(params) < 3 && end < start {
		step = -1
	}
	if step == 0 || (step > 0 && end < start) || (step < 0 && end > start) {
		return "", nil
	}
	// Inclusive of end: one more than untilStep would give, computed without overflow.
	nums, err := boundedUntilStep(start, end, step)
	if err != nil {
		return "", err
	}
	if (end-start)%step == 0 {
		if len(nums)+1 > MaxListLength {
			return "", tooLong("seq", len(nums)+1, MaxListLength)
		}
		nums = append(nums, end)
	}
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, " "), nil
}

func boundedIndent(spaces int, s string) (string, error) {
	if spaces < 0 {
		return "", fmt.Errorf("indent: negative width %d", spaces)
	}
	lines := strings.Count(s, "\n") + 1
	if spaces > MaxFieldOutputBytes || spaces*lines+len(s) > MaxFieldOutputBytes {
		return "", tooBig("indent", spaces*lines+len(s))
	}
	pad := strings.Repeat(" ", spaces)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

// boundedReplace is sprig's replace (old, new, src) with its result size computed first.
func boundedReplace(old, repl, src string) (string, error) {
	n := strings.Count(src, old)
	if size := len(src) + n*(len(repl)-len(old)); size > MaxFieldOutputBytes {
		return "", tooBig("replace", size)
	}
	return strings.ReplaceAll(src, old, repl), nil
}

// Sprig functions the bounded versions call after checking sizes.
var (
	sprigToStrings = sprig.GenericFuncMap()["toStrings"].(func(any) []string)
	sprigWrapWith  = sprig.GenericFuncMap()["wrapWith"].(func(int, string, string) string)
)

func boundedJoin(sep string, v any) (string, error) {
	parts := sprigToStrings(v)
	size := len(sep) * max(len(parts)-1, 0)
	for _, p := range parts {
		size += len(p)
	}
	if size > MaxFieldOutputBytes {
		return "", tooBig("join", size)
	}
	return strings.Join(parts, sep), nil
}

func boundedWrapWith(width int, sep, s string) (string, error) {
	if width < 1 {
		width = 1
	}
	if size := len(s) + (len(s)/width+1)*len(sep); size > MaxFieldOutputBytes {
		return "", tooBig("wrapWith", size)
	}
	return sprigWrapWith(width, sep, s), nil
}

// boundedRegexReplace bounds the result before building it: every match may add the replacement,
// and every $-reference in it may add up to the whole input.
func boundedRegexReplace(expr, s, repl string, literal bool) (string, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return "", err
	}
	matches := len(re.FindAllStringIndex(s, -1))
	size := len(s) + matches*len(repl)
	if !literal {
		size += matches * strings.Count(repl, "$") * len(s)
	}
	if size > MaxFieldOutputBytes {
		return "", tooBig("regexReplaceAll", size)
	}
	if literal {
		return re.ReplaceAllLiteralString(s, repl), nil
	}
	return re.ReplaceAllString(s, repl), nil
}

// sortedKeys is sprig's keys in sorted order, so a render is the same every time.
func sortedKeys(dicts ...map[string]any) []string {
	var keys []string
	for _, d := range dicts {
		for k := range d {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// valuesByKey is sprig's values in the order of their sorted keys.
func valuesByKey(d map[string]any) []any {
	out := make([]any, 0, len(d))
	for _, k := range sortedKeys(d) {
		out = append(out, d[k])
	}
	return out
}

var printfVerb = regexp.MustCompile(`%[-+# 0]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?`)

// boundedPrintf refuses formats whose widths and precisions alone exceed the output bound, before
// fmt allocates them.
func boundedPrintf(format string, args ...any) (string, error) {
	size := len(format)
	star := 0
	for _, m := range printfVerb.FindAllStringSubmatch(format, -1) {
		for _, n := range m[1:] {
			switch n {
			case "":
			case "*":
				if star < len(args) {
					if w, ok := args[star].(int); ok {
						size += max(w, -w)
					}
				}
				star++
			default:
				w, err := strconv.Atoi(n)
				if err != nil || w > MaxFieldOutputBytes {
					return "", tooBig("printf", MaxFieldOutputBytes+1)
				}
				size += w
			}
		}
	}
	if size > MaxFieldOutputBytes {
		return "", tooBig("printf", size)
	}
	return fmt.Sprintf(format, args...), nil
}

var errRenderWork = fmt.Errorf("the functions of this blueprint's templates handled more than %d bytes in one render", MaxRenderWork)

// valueSize is the size a value counts for: the bytes of its strings plus one per list or map
// entry, recursively. Values nested deeper than MaxValueDepth are an error.
func valueSize(v reflect.Value, depth int) (int, error) {
	if depth > MaxValueDepth {
		return 0, fmt.Errorf("values nest deeper than %d levels", MaxValueDepth)
	}
	switch v.Kind() {
	case reflect.Invalid:
		return 0, nil
	case reflect.String:
		return v.Len(), nil
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return 0, nil
		}
		return valueSize(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Len(), nil
		}
		total := v.Len()
		for i := range v.Len() {
			n, err := valueSize(v.Index(i), depth+1)
			if err != nil {
				return 0, err
			}
			total += n
			if total > MaxValueBytes {
				return total, nil
			}
		}
		return total, nil
	case reflect.Map:
		total := v.Len()
		it := v.MapRange()
		for it.Next() {
			k, err := valueSize(it.Key(), depth+1)
			if err != nil {
				return 0, err
			}
			e, err := valueSize(it.Value(), depth+1)
			if err != nil {
				return 0, err
			}
			total += k + e
			if total > MaxValueBytes {
				return total, nil
			}
		}
		return total, nil
	case reflect.Struct:
		// renderData and the parameters: bounded by the size of a Kubernetes object.
		return 64, nil
	default:
		return 8, nil
	}
}

// checkResult refuses results a template could use to grow memory: long strings, long lists
// and maps, and deep or large values.
func checkResult(name string, v reflect.Value) (int, error) {
	switch v.Kind() {
	case reflect.String:
		if v.Len() > MaxFieldOutputBytes {
			return 0, fmt.Errorf("%s returned %d bytes, more than the limit of %d", name, v.Len(), MaxFieldOutputBytes)
		}
	case reflect.Slice, reflect.Map:
		if v.Type().Elem().Kind() != reflect.Uint8 && v.Len() > MaxListLength {
			return 0, fmt.Errorf("%s returned %d items, more than the limit of %d", name, v.Len(), MaxListLength)
		}
	}
	size, err := valueSize(v, 0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if size > MaxValueBytes {
		return 0, fmt.Errorf("%s returned a value of more than %d bytes", name, MaxValueBytes)
	}
	return size, nil
}

var renderDataType = reflect.TypeFor[renderData]()

// budgeted wraps a function so that it takes the render's data ($) first, refuses arguments and
// results beyond the value bounds, and charges what it handles to the render's work budget. The
// parser inserts $ into every call (see injectData). Errors are raised as panics, which
// text/template turns into "error calling <name>: ..." errors.
func budgeted(name string, fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	in := []reflect.Type{renderDataType}
	for i := range ft.NumIn() {
		in = append(in, ft.In(i))
	}
	out := make([]reflect.Type, ft.NumOut())
	for i := range out {
		out[i] = ft.Out(i)
	}
	wrapped := reflect.FuncOf(in, out, ft.IsVariadic())
	return reflect.MakeFunc(wrapped, func(args []reflect.Value) []reflect.Value {
		d := args[0].Interface().(renderData)
		argSize := 0
		for _, a := range args[1:] {
			n, err := valueSize(a, 0)
			if err != nil {
				panic(fmt.Errorf("%s: %w", name, err))
			}
			argSize += n
		}
		if argSize > MaxValueBytes {
			panic(fmt.Errorf("%s: arguments of more than %d bytes", name, MaxValueBytes))
		}
		d.budget.charge(argSize)
		var results []reflect.Value
		if ft.IsVariadic() {
			results = fv.CallSlice(args[1:])
		} else {
			results = fv.Call(args[1:])
		}
		if len(results) > 0 {
			size, err := checkResult(name, results[0])
			if err != nil {
				panic(err)
			}
			d.budget.charge(size)
		}
		return results
	}).Interface()
}

func (b renderBudget) charge(n int) {
	if b == nil {
		return
	}
	b[budgetWork] += n
	if b[budgetWork] > MaxRenderWork {
		panic(errRenderWork)
	}
}

// isBudgetError reports whether err came from a render limit rather than from the template.
func isBudgetError(err error) bool {
	return errors.Is(err, errRenderWork) || errors.Is(err, errTooManyIterations)
}
