package redis

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// The dump format, version 1:
//
//	header   "COFFER-REDIS-DUMP 1\n"
//	key      'K' db:uvarint keylen:uvarint key ttl:uvarint payloadlen:uvarint payload
//	end      'E' keys:uvarint crc:uint32 big-endian
//
// ttl is the milliseconds the key had left when it was dumped, 0 for none: RESTORE's own ttl
// argument. payload is what DUMP returned, Redis' own serialisation of the value, which carries
// its RDB version and a CRC-64 that RESTORE checks. crc is the CRC-32C of every byte before it,
// and the end record is there so that a cut-off or corrupt stream fails the restore instead of
// restoring part of a server without a word.
const (
	formatMagic   = "COFFER-REDIS-DUMP "
	formatVersion = 1

	tagKey = 'K'
	tagEnd = 'E'

	// maxKeyLen is Redis' own bound on a key (proto-max-bulk-len's default); a longer one in a
	// dump is corruption.
	maxKeyLen = 512 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// dumpWriter writes the dump format.
type dumpWriter struct {
	w    *bufio.Writer
	crc  uint32
	keys uint64
	err  error
	num  [binary.MaxVarintLen64]byte
}

func newDumpWriter(w io.Writer) *dumpWriter {
	d := &dumpWriter{w: bufio.NewWriterSize(w, 256<<10)}
	_, _ = io.WriteString(d, formatMagic+strconv.Itoa(formatVersion)+"\n")
	return d
}

// Write adds p to the dump and to its checksum. The first error sticks, as bufio's does.
func (d *dumpWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	d.crc = crc32.Update(d.crc, castagnoli, p)
	n, err := d.w.Write(p)
	d.err = err
	return n, err
}

func (d *dumpWriter) uvarint(v uint64) {
	_, _ = d.Write(binary.AppendUvarint(d.num[:0], v))
}

// key writes one key's record, its payload being the next n bytes of payload.
func (d *dumpWriter) key(db int, key string, ttl int64, payload io.Reader, n int64) error {
	_, _ = d.Write([]byte{tagKey})
	d.uvarint(uint64(db))
	d.uvarint(uint64(len(key)))
	_, _ = io.WriteString(d, key)
	d.uvarint(uint64(ttl))
	d.uvarint(uint64(n))
	if d.err != nil {
		return d.err
	}
	if _, err := io.CopyN(d, payload, n); err != nil {
		return err
	}
	d.keys++
	return nil
}

// end writes the end record and flushes.
func (d *dumpWriter) end() error {
	_, _ = d.Write([]byte{tagEnd})
	d.uvarint(d.keys)
	if d.err != nil {
		return d.err
	}
	if _, err := d.w.Write(binary.BigEndian.AppendUint32(nil, d.crc)); err != nil {
		return err
	}
	return d.w.Flush()
}

// record is one key of a dump; its payload is the next size bytes of the dumpReader.
type record struct {
	db   int
	key  string
	ttl  int64
	size int64
}

// dumpReader reads the dump format, checksumming what it reads.
type dumpReader struct {
	r    *bufio.Reader
	crc  uint32
	keys uint64
	// rerr is the first error of the stream itself (not its end): a failed download is not a
	// corrupt dump, and must not be reported as one.
	rerr error
	one  [1]byte
}

// ErrCorrupt is wrapped by every error about a dump that is not one, cut off or altered.
var ErrCorrupt = errors.New("not a whole coffer Redis dump")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("redis: %w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// failed is the error of a read of what: the stream's own error, or corruption.
func (d *dumpReader) failed(err error, what string) error {
	if d.rerr != nil {
		return fmt.Errorf("redis: reading the dump: %w", d.rerr)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt("it is cut off in %s", what)
	}
	return corrupt("%s: %v", what, err)
}

func newDumpReader(r io.Reader) (*dumpReader, error) {
	d := &dumpReader{r: bufio.NewReaderSize(r, 256<<10)}
	line, err := d.r.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("redis: reading the dump: %w", err)
	}
	if !strings.HasPrefix(string(line), formatMagic) || err != nil {
		return nil, corrupt("it does not start with %q", formatMagic)
	}
	d.crc = crc32.Update(0, castagnoli, line)
	version, err := strconv.Atoi(strings.TrimSpace(string(line[len(formatMagic):])))
	if err != nil {
		return nil, corrupt("a header %q with no version", line)
	}
	if version != formatVersion {
		return nil, fmt.Errorf("redis: the dump's format version is %d, and this coffer reads version %d only", version, formatVersion)
	}
	return d, nil
}

// Read reads from the dump, adding what it read to the checksum.
func (d *dumpReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.crc = crc32.Update(d.crc, castagnoli, p[:n])
	d.note(err)
	return n, err
}

func (d *dumpReader) ReadByte() (byte, error) {
	b, err := d.r.ReadByte()
	if err == nil {
		d.one[0] = b
		d.crc = crc32.Update(d.crc, castagnoli, d.one[:])
	}
	d.note(err)
	return b, err
}

func (d *dumpReader) note(err error) {
	if err != nil && err != io.EOF && d.rerr == nil {
		d.rerr = err
	}
}

func (d *dumpReader) uvarint(what string, limit uint64) (uint64, error) {
	v, err := binary.ReadUvarint(d)
	if err != nil {
		return 0, d.failed(err, fmt.Sprintf("the %s of key %d", what, d.keys+1))
	}
	if v > limit {
		return 0, corrupt("key %d has a %s of %d", d.keys+1, what, v)
	}
	return v, nil
}

// next reads the next record; at the end record it checks the count and the checksum and
// returns false. The caller reads the record's payload (payload) before asking for the next.
func (d *dumpReader) next() (record, bool, error) {
	tag, err := d.ReadByte()
	if err != nil {
		return record{}, false, d.failed(err, fmt.Sprintf("what follows key %d", d.keys))
	}
	switch tag {
	case tagEnd:
		return record{}, false, d.end()
	case tagKey:
	default:
		return record{}, false, corrupt("a record of type %q follows key %d", tag, d.keys)
	}
	db, err := d.uvarint("database", 1<<31-1)
	if err != nil {
		return record{}, false, err
	}
	keyLen, err := d.uvarint("key length", maxKeyLen)
	if err != nil {
		return record{}, false, err
	}
	key, err := readN(d, int64(keyLen))
	if err != nil {
		return record{}, false, d.failed(err, fmt.Sprintf("key %d", d.keys+1))
	}
	ttl, err := d.uvarint("TTL", 1<<63-1)
	if err != nil {
		return record{}, false, err
	}
	size, err := d.uvarint("value length", 1<<63-1)
	if err != nil {
		return record{}, false, err
	}
	d.keys++
	return record{db: int(db), key: string(key), ttl: int64(ttl), size: int64(size)}, true, nil
}

// payload is the current record's value, to be read whole before next is called.
func (d *dumpReader) payload(rec record) *payloadReader {
	return &payloadReader{d: d, left: rec.size, key: rec.key}
}

// payloadReader reads one value, telling a cut-off dump from a failed stream.
type payloadReader struct {
	d    *dumpReader
	left int64
	key  string
	// err is its reading's error, kept apart from what a writer it is copied to wraps it in.
	err error
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.d.Read(b)
	p.left -= int64(n)
	if err == io.EOF && p.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		err = p.d.failed(err, fmt.Sprintf("the value of %q", p.key))
		p.err = err
	}
	return n, err
}

func (d *dumpReader) end() error {
	keys, err := binary.ReadUvarint(d)
	if err != nil {
		return d.failed(err, "the end record")
	}
	if keys != d.keys {
		return corrupt("the end record counts %d keys, and %d came before it", keys, d.keys)
	}
	want := d.crc
	var sum [4]byte
	if _, err := io.ReadFull(d.r, sum[:]); err != nil {
		if err != io.ErrUnexpectedEOF {
			d.note(err)
		}
		return d.failed(err, "the checksum")
	}
	if got := binary.BigEndian.Uint32(sum[:]); got != want {
		return corrupt("its checksum is %08x, and its content's %08x", got, want)
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("redis: reading the dump: %w", err)
		}
		return corrupt("something follows its end record")
	}
	return nil
}
