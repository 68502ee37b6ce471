package blueprints

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// Limits of one render. They bound what a blueprint author can make the controller do: no
// template may allocate or loop without bound, whatever its input.
const (
	// MaxTemplateBytes bounds the source of one templated field.
	MaxTemplateBytes = 16 << 10
	// MaxFieldOutputBytes bounds the rendered value of one field.
	MaxFieldOutputBytes = 64 << 10
	// MaxRenderOutputBytes bounds the rendered values of one configuration together.
	MaxRenderOutputBytes = 1 << 20
	// MaxListLength bounds lists and repetitions made by until, untilStep, seq and repeat.
	MaxListLength = 1000
	// MaxIterations bounds range iterations across one render.
	MaxIterations = 10000
)

// removedFuncs are sprig functions a blueprint must not have. HermeticTxtFuncMap already drops
// env, expandenv, getHostByName, now, date*, rand* and uuidv4; these also read the clock or
// randomness, or make keys and certificates, which has no place in a backup configuration and
// would make a render differ between admission and reconcile.
var removedFuncs = []string{
	"ago", "toDate", "mustToDate", "unixEpoch", "durationRound", "date", "dateInZone", "date_in_zone",
	"dateModify", "date_modify", "mustDateModify", "must_date_modify", "htmlDate", "htmlDateInZone", "now",
	"randInt", "randAlpha", "randAlphaNum", "randAscii", "randNumeric", "randBytes", "shuffle", "uuidv4",
	"genCA", "genCAWithKey", "genPrivateKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
	"genSignedCert", "genSignedCertWithKey", "buildCustomCert", "derivePassword",
	"encryptAES", "decryptAES", "bcrypt", "htpasswd",
	"env", "expandenv", "getHostByName",
}

// FuncMap returns the functions available to blueprint templates: sprig's hermetic set without
// removedFuncs, with the allocating functions bounded by MaxListLength and MaxFieldOutputBytes.
// The result is a fresh map the caller may use for one template.
func FuncMap() template.FuncMap {
	m := sprig.HermeticTxtFuncMap()
	for _, name := range removedFuncs {
		delete(m, name)
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
	return m
}

func tooLong(fn string, n, limit int) error {
	return fmt.Errorf("%s would make %d items, more than the limit of %d", fn, n, limit)
}

func boundedRepeat(count int, s string) (string, error) {
	if count < 0 {
		return "", fmt.Errorf("repeat: negative count %d", count)
	}
	if count > MaxListLength || count*len(s) > MaxFieldOutputBytes {
		return "", tooLong("repeat", count, MaxListLength)
	}
	return strings.Repeat(s, count), nil
}

func boundedUntil(count int) ([]int, error) {
	return boundedUntilStep(0, count, map[bool]int{true: 1, false: -1}[count >= 0])
}

func boundedUntilStep(start, stop, step int) ([]int, error) {
	if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
		return []int{}, nil
	}
	n := (stop - start) / step
	if (stop-start)%step != 0 {
		n++
	}
	if n > MaxListLength || n < 0 {
		return nil, tooLong("untilStep", n, MaxListLength)
	}
	out := make([]int, 0, n)
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, i)
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
	var nums []int
	var err error
	if step > 0 {
		nums, err = boundedUntilStep(start, end+1, step)
	} else {
		nums, err = boundedUntilStep(start, end-1, step)
	}
	if err != nil {
		return "", err
	}
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " "), nil
}

func boundedIndent(spaces int, s string) (string, error) {
	if spaces < 0 {
		return "", fmt.Errorf("indent: negative width %d", spaces)
	}
	lines := strings.Count(s, "\n") + 1
	if spaces > MaxListLength || spaces*lines+len(s) > MaxFieldOutputBytes {
		return "", fmt.Errorf("indent would make more than %d bytes", MaxFieldOutputBytes)
	}
	pad := strings.Repeat(" ", spaces)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}
