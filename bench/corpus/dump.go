package corpus

import (
	"fmt"
	"io"
	"strconv"
)

// DumpSpec describes a database-dump-like stream: mysqldump-style SQL, a few tables one after
// the other, each a CREATE TABLE and multi-row INSERT statements of 8-64 rows, one per line.
// It compresses about 3.5x with zstd -3.
type DumpSpec struct {
	// Seed selects the dump.
	Seed int64 `json:"seed"`
	// Size is the length of the base dump, exactly (its last line is cut). Default 256 MiB.
	Size int64 `json:"size"`
	// Inserts is the number of blocks inserted into the base dump. With Inserts = 0 WriteDump
	// writes the base dump; with Inserts = N it writes the same bytes with N blocks of 4-12 KiB
	// of INSERT statements (rows of the table at that point) added at line boundaries spread
	// over the stream: the k-th goes at the first line boundary after about (k+1)/(N+1) of Size.
	// Everything else is identical, so content-defined chunking should store little more than
	// the inserted blocks and one or two chunks around each.
	Inserts int `json:"inserts"`
}

const (
	insertLo, insertHi = 4 * KiB, 12 * KiB
	dumpFlush          = 256 * KiB
)

func (s DumpSpec) withDefaults() (DumpSpec, error) {
	if s.Size == 0 {
		s.Size = 256 * MiB
	}
	if s.Size < 0 {
		return s, fmt.Errorf("dump size %d is negative", s.Size)
	}
	if s.Inserts < 0 || int64(s.Inserts) > s.Size/insertHi {
		return s, fmt.Errorf("dump inserts %d is not in [0, %d]", s.Inserts, s.Size/insertHi)
	}
	return s, nil
}

// WriteDump streams the dump described by spec to w, holding no more than a few hundred KiB in
// memory.
func WriteDump(w io.Writer, spec DumpSpec) error {
	spec, err := spec.withDefaults()
	if err != nil {
		return fmt.Errorf("dump spec: %w", err)
	}
	d := &dumpWriter{w: w, size: spec.Size, targets: insertTargets(spec), buf: make([]byte, 0, dumpFlush+64*KiB)}
	b := &dumpBase{
		seed:      spec.Seed,
		g:         newTextGen(formatLog, newRNG(spec.Seed, "dump", 0)),
		section:   -1,
		sectionLo: max(64*KiB, spec.Size/12),
		sectionHi: max(64*KiB, spec.Size/4),
	}
	b.table = dumpTables[0] // for a block due before the first table, which no valid spec has
	b.table.g = b.g
	block := func(k int) []byte { return b.table.block(spec.Seed, k, b.nextID) }
	for {
		d.insertDue(block)
		if !d.emit(b.next(d.off)) {
			break
		}
	}
	for ; d.done < len(d.targets); d.done++ {
		d.write(block(d.done))
	}
	return d.flush()
}

// dumpBase makes the base dump's units: the header, then per table its structure, INSERT
// statements until the table's share of the size is reached, and UNLOCK TABLES.
type dumpBase struct {
	seed                 int64
	g                    *textGen
	unit                 []byte
	started              bool
	section              int
	table                dumpTable
	nextID               int64
	end                  int64 // base offset at which the current table ends
	sectionLo, sectionHi int64
	locked               bool
}

func (b *dumpBase) next(off int64) []byte {
	u := b.unit[:0]
	switch {
	case !b.started:
		b.started = true
		u = fmt.Appendf(u, "-- Coffer benchmark dump, format %d, seed %d\n-- MySQL dump-like; generated, not real data\n\n/*!40101 SET NAMES utf8mb4 */;\n", Version, b.seed)
	case b.locked && off >= b.end:
		b.locked = false
		u = append(u, "UNLOCK TABLES;\n"...)
	case !b.locked:
		b.section++
		b.table = dumpTables[b.section%len(dumpTables)]
		if b.section >= len(dumpTables) {
			b.table.name += "_p" + strconv.Itoa(b.section/len(dumpTables))
		}
		b.table.g = b.g
		b.nextID = 1
		b.end = off + b.g.r.between(b.sectionLo, b.sectionHi)
		b.locked = true
		n := b.table.name
		u = fmt.Appendf(u, "\n--\n-- Table structure for table `%s`\n--\n\nDROP TABLE IF EXISTS `%s`;\nCREATE TABLE `%s` (\n%s) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\nLOCK TABLES `%s` WRITE;\n",
			n, n, n, b.table.columns, n)
	default:
		u = b.table.statement(u, &b.nextID, 8+b.g.r.intn(57))
	}
	b.unit = u
	return u
}

// insertTargets returns the base offsets the inserted blocks go after, ascending: the k-th is
// (k+1)/(N+1) of the size, give or take a quarter of that spacing.
func insertTargets(s DumpSpec) []int64 {
	r := newRNG(s.Seed, "dump-targets", uint64(s.Inserts))
	span := s.Size / int64(s.Inserts+1)
	t := make([]int64, s.Inserts)
	for k := range t {
		t[k] = span*int64(k+1) - span/4 + r.int64n(max(1, span/2))
	}
	return t
}

// dumpWriter writes the base dump's units, cutting the last one at size, and the inserted blocks
// between them: each before the first unit that starts at or after its target, and any still due
// when the base ends at the end.
type dumpWriter struct {
	w       io.Writer
	size    int64
	off     int64 // base bytes written
	targets []int64
	done    int // blocks inserted
	buf     []byte
	err     error
}

// insertDue writes the blocks whose target the base has reached; block(k) makes the k-th.
func (d *dumpWriter) insertDue(block func(k int) []byte) {
	for d.done < len(d.targets) && d.targets[d.done] <= d.off {
		d.write(block(d.done))
		d.done++
	}
}

// emit writes one base unit and reports whether the base goes on.
func (d *dumpWriter) emit(unit []byte) bool {
	if rem := d.size - d.off; int64(len(unit)) >= rem {
		d.write(unit[:rem])
		d.off = d.size
		return false
	}
	d.write(unit)
	d.off += int64(len(unit))
	return d.err == nil
}

func (d *dumpWriter) write(b []byte) {
	d.buf = append(d.buf, b...)
	if len(d.buf) >= dumpFlush {
		d.flush()
	}
}

func (d *dumpWriter) flush() error {
	if d.err == nil && len(d.buf) > 0 {
		_, d.err = d.w.Write(d.buf)
	}
	d.buf = d.buf[:0]
	return d.err
}

// dumpTable is a table's schema and row generator.
type dumpTable struct {
	name    string
	columns string
	row     func(g *textGen, b []byte, id int64) []byte
	g       *textGen
}

var dumpTables = []dumpTable{
	{
		name: "users",
		columns: "  `id` bigint NOT NULL,\n  `name` varchar(128) NOT NULL,\n  `email` varchar(255) NOT NULL,\n" +
			"  `created_at` datetime(3) NOT NULL,\n  `status` varchar(16) NOT NULL,\n  `score` int NOT NULL,\n  PRIMARY KEY (`id`)\n",
		row: func(g *textGen, b []byte, id int64) []byte {
			g.ms += g.r.int64n(120_000)
			b = strconv.AppendInt(b, id, 10)
			b = append(b, ",'"...)
			b = g.words(b, 2, ' ')
			b = append(b, "','"...)
			b = g.words(b, 2, '.')
			b = append(b, "@example.com','"...)
			b = g.appendTime(b, g.ms, ' ')
			b = append(b, "','"...)
			b = append(b, userStatuses[g.r.intn(len(userStatuses))]...)
			b = append(b, "',"...)
			return strconv.AppendInt(b, g.r.int64n(10000), 10)
		},
	},
	{
		name: "orders",
		columns: "  `id` bigint NOT NULL,\n  `user_id` bigint NOT NULL,\n  `created_at` datetime(3) NOT NULL,\n" +
			"  `amount` decimal(12,2) NOT NULL,\n  `currency` char(3) NOT NULL,\n  `status` varchar(16) NOT NULL,\n" +
			"  `note` text,\n  PRIMARY KEY (`id`),\n  KEY `user_id` (`user_id`)\n",
		row: func(g *textGen, b []byte, id int64) []byte {
			g.ms += g.r.int64n(30_000)
			b = strconv.AppendInt(b, id, 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, 1+g.r.int64n(500_000), 10)
			b = append(b, ",'"...)
			b = g.appendTime(b, g.ms, ' ')
			b = append(b, "',"...)
			b = appendCents(b, g.r.int64n(1_000_000))
			b = append(b, ",'"...)
			b = append(b, currencies[g.r.intn(len(currencies))]...)
			b = append(b, "','"...)
			b = append(b, orderStatuses[g.r.intn(len(orderStatuses))]...)
			b = append(b, "','"...)
			b = g.words(b, g.r.intn(9), ' ')
			return append(b, '\'')
		},
	},
	{
		name: "events",
		columns: "  `id` bigint NOT NULL,\n  `ts` datetime(3) NOT NULL,\n  `kind` varchar(64) NOT NULL,\n" +
			"  `payload` json NOT NULL,\n  PRIMARY KEY (`id`)\n",
		row: func(g *textGen, b []byte, id int64) []byte {
			g.ms += g.r.int64n(2_000)
			b = strconv.AppendInt(b, id, 10)
			b = append(b, ",'"...)
			b = g.appendTime(b, g.ms, ' ')
			b = append(b, "','"...)
			b = g.words(b, 2, '.')
			b = append(b, `','{"`...)
			b = append(b, g.w.word()...)
			b = append(b, `":"`...)
			b = g.words(b, 1+g.r.intn(3), ' ')
			b = append(b, `","n":`...)
			b = strconv.AppendInt(b, g.r.int64n(1_000_000), 10)
			return append(b, `}'`...)
		},
	},
}

var (
	userStatuses  = []string{"active", "active", "active", "active", "inactive", "banned", "pending"}
	orderStatuses = []string{"paid", "paid", "paid", "shipped", "shipped", "delivered", "refunded", "cancelled"}
	currencies    = []string{"EUR", "EUR", "USD", "USD", "USD", "GBP", "CHF", "JPY"}
)

// statement appends one INSERT of rows rows, numbering them from *id.
func (t dumpTable) statement(b []byte, id *int64, rows int) []byte {
	b = append(b, "INSERT INTO `"...)
	b = append(b, t.name...)
	b = append(b, "` VALUES "...)
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '(')
		b = t.row(t.g, b, *id)
		b = append(b, ')')
		*id++
	}
	return append(b, ";\n"...)
}

// block makes the k-th inserted block: 4-12 KiB of whole INSERT statements of 4-16 rows into this
// table, from its own stream, with the base's clock at that point and ids far above the base's
// (atID is the base's next id).
func (t dumpTable) block(seed int64, k int, atID int64) []byte {
	r := newRNG(seed, "dump-insert", uint64(k))
	g := newTextGen(formatLog, r)
	g.ms = t.g.ms
	t.g = g
	id := 1_000_000_000 + atID*16
	want := r.between(insertLo, insertHi)
	var b []byte
	for int64(len(b)) < want {
		b = t.statement(b, &id, 4+r.intn(13))
	}
	return b
}
