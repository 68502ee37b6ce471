package corpus

import (
	"io/fs"
	"path"
	"strconv"
)

// Text-like content: endless streams of log lines, JSON records, CSV rows, prose or shell lines
// built from the Zipf-weighted vocabulary, with counters and clocks that advance the way real
// ones do. They compress 3-4x with zstd -3 or flate, like logs and exported data on a real
// volume.

type format uint8

const (
	formatLog format = iota
	formatJSON
	formatCSV
	formatProse
	formatScript
)

// kind is a planned file's content: text or random bytes.
type kind struct {
	ext    string
	text   bool
	format format // text only
	mode   fs.FileMode
}

// textKinds and randomKinds are picked by weight (the first field, out of 100).
var (
	textKinds = []struct {
		weight int
		kind
	}{
		{35, kind{".log", true, formatLog, 0o644}},
		{25, kind{".json", true, formatJSON, 0o644}},
		{15, kind{".csv", true, formatCSV, 0o644}},
		{20, kind{".txt", true, formatProse, 0o644}},
		{5, kind{".sh", true, formatScript, 0o755}},
	}
	randomKinds = []struct {
		weight int
		kind
	}{
		{30, kind{".jpg", false, 0, 0o644}},
		{15, kind{".png", false, 0, 0o644}},
		{20, kind{".mp4", false, 0, 0o644}},
		{15, kind{".gz", false, 0, 0o644}},
		{15, kind{".bin", false, 0, 0o644}},
		{5, kind{".key", false, 0, 0o600}},
	}
)

func pickKind(r *rng, text bool) kind {
	n := r.intn(100)
	if text {
		for _, k := range textKinds {
			if n -= k.weight; n < 0 {
				return k.kind
			}
		}
		return textKinds[0].kind
	}
	for _, k := range randomKinds {
		if n -= k.weight; n < 0 {
			return k.kind
		}
	}
	return randomKinds[0].kind
}

// kindOf recovers a file's kind from its name, for Mutate: text files are appended to in their
// own format, everything else is overwritten with random bytes.
func kindOf(name string) kind {
	ext := path.Ext(name)
	for _, k := range textKinds {
		if k.ext == ext {
			return k.kind
		}
	}
	return kind{ext: ext, mode: 0o644}
}

// epoch is the clock every generated timestamp is relative to: 2025-01-01T00:00:00Z.
const epoch = 1735689600

// textGen produces the lines of one text stream.
type textGen struct {
	f     format
	r     *rng
	w     wordSource
	ms    int64 // clock, Unix milliseconds
	id    int64 // record counter
	pid   int64
	lines int
	day   int64  // the day date was formatted for
	date  []byte // YYYY-MM-DD
}

func newTextGen(f format, r *rng) *textGen {
	g := &textGen{f: f, r: r, w: wordSource{r: r}, day: -1}
	g.ms = (epoch - r.int64n(365*86400)) * 1000
	g.id = 1 + r.int64n(100000)
	g.pid = 100 + r.int64n(30000)
	return g
}

var (
	levels   = []string{"INFO ", "INFO ", "INFO ", "INFO ", "INFO ", "INFO ", "INFO ", "INFO ", "DEBUG", "WARN "}
	statuses = []int64{200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 500}
)

func (g *textGen) words(b []byte, n int, sep byte) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, sep)
		}
		b = append(b, g.w.word()...)
	}
	return b
}

// appendLines appends whole lines to b until it holds at least n bytes.
func (g *textGen) appendLines(b []byte, n int) []byte {
	for len(b) < n {
		b = g.appendLine(b)
	}
	return b
}

func (g *textGen) appendLine(b []byte) []byte {
	r := g.r
	g.lines++
	switch g.f {
	case formatLog:
		g.ms += r.int64n(1500)
		b = g.appendTime(b, g.ms, 'T')
		b = append(b, "Z "...)
		b = append(b, levels[r.intn(len(levels))]...)
		b = append(b, ' ')
		b = append(b, g.w.word()...)
		b = append(b, '[')
		b = strconv.AppendInt(b, g.pid, 10)
		b = append(b, "]: "...)
		b = g.words(b, 3+r.intn(8), ' ')
		for range 1 + r.intn(3) {
			b = append(b, ' ')
			b = append(b, g.w.word()...)
			b = append(b, '=')
			if r.intn(2) == 0 {
				b = append(b, g.w.word()...)
			} else {
				b = strconv.AppendInt(b, r.int64n(10000), 10)
			}
		}
		b = append(b, " latency_ms="...)
		b = strconv.AppendInt(b, r.int64n(900)+1, 10)
	case formatJSON:
		g.ms += r.int64n(5000)
		g.id++
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, g.id, 10)
		b = append(b, `,"ts":"`...)
		b = g.appendTime(b, g.ms, 'T')
		b = append(b, `Z","user":"`...)
		b = append(b, g.w.word()...)
		b = append(b, `","event":"`...)
		b = g.words(b, 2, '.')
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, statuses[r.intn(len(statuses))], 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, r.int64n(1<<20), 10)
		b = append(b, `,"tags":["`...)
		b = g.words(b, 1+r.intn(3), ',')
		b = append(b, `"],"msg":"`...)
		b = g.words(b, 2+r.intn(8), ' ')
		b = append(b, `"}`...)
	case formatCSV:
		if g.lines == 1 {
			return append(b, "id,date,customer,product,quantity,price,region,note\n"...)
		}
		g.ms += r.int64n(600_000)
		g.id++
		b = strconv.AppendInt(b, g.id, 10)
		b = append(b, ',')
		b = g.appendDate(b, g.ms)
		for range 2 {
			b = append(b, ',')
			b = append(b, g.w.word()...)
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, 1+r.int64n(20), 10)
		b = append(b, ',')
		b = appendCents(b, r.int64n(100000))
		b = append(b, ',')
		b = append(b, g.w.word()...)
		b = append(b, ',')
		b = g.words(b, r.intn(5), ' ')
	case formatProse:
		if g.lines%8 == 0 {
			return append(b, '\n')
		}
		for range 1 + r.intn(4) {
			start := len(b)
			b = g.words(b, 4+r.intn(14), ' ')
			if c := b[start]; c >= 'a' && c <= 'z' {
				b[start] = c - 'a' + 'A'
			}
			b = append(b, ". "...)
		}
		b = b[:len(b)-1]
	case formatScript:
		switch {
		case g.lines == 1:
			return append(b, "#!/bin/sh\nset -eu\n"...)
		case r.intn(5) == 0:
			b = append(b, "# "...)
			b = g.words(b, 3+r.intn(6), ' ')
		case r.intn(3) == 0:
			b = append(b, `echo "`...)
			b = g.words(b, 2+r.intn(5), ' ')
			b = append(b, '"')
		default:
			b = append(b, g.w.word()...)
			for range r.intn(4) {
				b = append(b, " --"...)
				b = append(b, g.w.word()...)
				b = append(b, '=')
				b = append(b, g.w.word()...)
			}
			b = append(b, " /"...)
			b = g.words(b, 1+r.intn(3), '/')
		}
	}
	return append(b, '\n')
}

// appendTime appends "YYYY-MM-DD<sep>hh:mm:ss.mmm" for Unix milliseconds ms >= 0.
func (g *textGen) appendTime(b []byte, ms int64, sep byte) []byte {
	b = g.appendDate(b, ms)
	b = append(b, sep)
	s := ms / 1000 % 86400
	b = appendPadded(b, s/3600, 2)
	b = append(b, ':')
	b = appendPadded(b, s/60%60, 2)
	b = append(b, ':')
	b = appendPadded(b, s%60, 2)
	b = append(b, '.')
	return appendPadded(b, ms%1000, 3)
}

// appendDate appends "YYYY-MM-DD" for Unix milliseconds ms >= 0, formatting once per day.
func (g *textGen) appendDate(b []byte, ms int64) []byte {
	if d := ms / 1000 / 86400; d != g.day {
		y, m, dd := civil(d)
		s := appendPadded(g.date[:0], y, 4)
		s = append(s, '-')
		s = appendPadded(s, m, 2)
		s = append(s, '-')
		s = appendPadded(s, dd, 2)
		g.day = d
		g.date = s
	}
	return append(b, g.date...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
// days_from_civil inverse; integer only).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func appendPadded(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendCents(b []byte, cents int64) []byte {
	b = strconv.AppendInt(b, cents/100, 10)
	b = append(b, '.')
	return appendPadded(b, cents%100, 2)
}

// textStream is a textGen as an endless io.Reader.
type textStream struct {
	g    *textGen
	pend []byte
	off  int
}

func newTextStream(f format, r *rng) *textStream {
	return &textStream{g: newTextGen(f, r), pend: make([]byte, 0, 8<<10)}
}

func (s *textStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if s.off == len(s.pend) {
			s.pend = s.g.appendLines(s.pend[:0], 4<<10)
			s.off = 0
		}
		c := copy(p[n:], s.pend[s.off:])
		n += c
		s.off += c
	}
	return n, nil
}
